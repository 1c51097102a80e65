"""Inbox: Matrix event ids already handled, each recorded in its effect's transaction.

nio saves its sync token before callbacks run, which alone gives at-most-once; a row
here, committed with the effect, turns redelivery into a no-op: exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.store.schema import inbox

_NO_RESULT: dict[str, Any] = {"pending": True}


class Inbox:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def already_handled(self, event_id: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.execute(
                sa.select(inbox.c.event_id).where(inbox.c.event_id == event_id)
            )
            return found.first() is not None


async def lookup(conn: AsyncConnection, event_id: str) -> tuple[bool, Any]:
    """(handled, stored result) for ``event_id`` inside the caller's transaction."""
    row = (
        await conn.execute(sa.select(inbox.c.result).where(inbox.c.event_id == event_id))
    ).first()
    return (row is not None, row.result if row else None)


async def claim(conn: AsyncConnection, event_id: str, use_case: str, now: datetime) -> None:
    """Insert the key first, so a concurrent duplicate waits on it and then fails."""
    await conn.execute(
        inbox.insert().values(event_id=event_id, use_case=use_case, result=None, handled_at=now)
    )


async def store_result(conn: AsyncConnection, event_id: str, result: Any) -> None:
    await conn.execute(inbox.update().where(inbox.c.event_id == event_id).values(result=result))
