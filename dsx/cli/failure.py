"""What a failed `dsx` command tells the person at the terminal: what is wrong and what
to do, in a line or two. The traceback is kept for ``DSX_DEBUG=1``; its text is never
printed by default, since a library's message may quote a URL with a password."""

from __future__ import annotations

import sqlalchemy.exc as sa_exc

from coordinator.store.errors import database_unreachable
from dsx.cli.explain import explain as in_words

_NO_SCHEMA = ("no such table", "does not exist", "undefinedtable")


def explain(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".lower()
    if isinstance(exc, sa_exc.DBAPIError) and any(m in text for m in _NO_SCHEMA):
        return (
            "the database has no schema yet (or an older one). "
            "Run `dsx migrate` with the same --config first."
        )
    if database_unreachable(exc):
        return (
            f"cannot reach the database ({in_words(exc)}). Is it running, and does "
            "[database] url (or DSX_DATABASE_URL) point at it? `dsx doctor` checks it."
        )
    if isinstance(exc, PermissionError):
        return (
            f"permission denied on {exc.filename or 'a file'}. "
            "Run as the service user, or fix the file's owner and mode."
        )
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename or 'a file'} does not exist. Check the paths in the configuration."
    # The same words `dsx doctor` uses (dsx/cli/explain.py), never the message.
    return (
        f"{in_words(exc)}. Nothing more is shown so that no secret is printed; "
        "set DSX_DEBUG=1 to see the traceback."
    )
