"""Which failures mean "the database is away" (retried for as long as it lasts) and which
mean a broken handler (skipped after a few tries, loudly)."""

from __future__ import annotations

import asyncpg.exceptions as pg_exc
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from coordinator.domain import DomainError
from coordinator.store import create_engine
from coordinator.store.errors import database_unreachable


def _wrapped(cause: BaseException) -> Exception:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("while handling") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused")),
        pg_exc.CannotConnectNowError("the database system is starting up"),
        pg_exc.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionResetError(104, "reset by peer"),
        TimeoutError(),
        _wrapped(pg_exc.AdminShutdownError("terminating connection due to administrator command")),
    ],
)
def test_database_outages_are_transient(exc):
    assert database_unreachable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("handler bug"),
        KeyError("proposal"),
        IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
        DomainError("illegal_transition", "no"),
        _wrapped(ValueError("bad data")),
    ],
)
def test_bugs_and_bad_data_are_not(exc):
    assert not database_unreachable(exc)


async def test_a_real_refused_connection_is_unreachable():
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(Exception) as caught:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
    finally:
        await engine.dispose()
    assert database_unreachable(caught.value)
