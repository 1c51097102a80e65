"""Telling a database that is away from a handler that is broken.

The sync loop skips an event whose handler fails again and again, so one poison event
cannot stall every partner room. A database restart or a dropped connection must never
count towards that: the event would be skipped and a request lost. Such failures are
retried for as long as they last (the sync loop backs off and reports the outage once).
"""

from __future__ import annotations

import sqlalchemy.exc as sa_exc

try:  # asyncpg is installed with the project; keep this module importable without it
    import asyncpg.exceptions as pg_exc

    _PG_TRANSIENT: tuple[type[BaseException], ...] = (
        pg_exc.PostgresConnectionError,
        pg_exc.CannotConnectNowError,
        pg_exc.ConnectionDoesNotExistError,
        pg_exc.AdminShutdownError,
        pg_exc.CrashShutdownError,
        pg_exc.TooManyConnectionsError,
        pg_exc.InterfaceError,
    )
except ImportError:  # pragma: no cover
    _PG_TRANSIENT = ()

_TRANSIENT: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,  # connection refused or lost; SQLite "database is locked"
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the pool had no connection to give
    sa_exc.DisconnectionError,
    ConnectionError,
    TimeoutError,
    *_PG_TRANSIENT,
)


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database is unreachable for now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, _TRANSIENT):
            return True
        if isinstance(current, OSError):  # the socket to the database, a full disk
            return True
        current = current.__cause__ or current.__context__
    return False
