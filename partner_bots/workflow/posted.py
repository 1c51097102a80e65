"""What the bot already posted, read back from the outbox: which proposal an event shows,
which thread a request lives in, and new rows to place in that thread.

The core writes proposals without knowing about threads; the workflow moves the rows a use
case just wrote (still uncommitted, same transaction) into the request's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.store.schema import outbox

PROPOSAL_KEY = "org.dsx.proposal"
_SCAN = 2_000  # recent rows looked at when searching for a proposal's messages


@dataclass(frozen=True)
class PostedProposal:
    row: str  # outbox id
    room: str
    proposal: str
    request: str
    thread_of: str | None
    content: dict[str, Any]


def _proposal(row: Any) -> PostedProposal | None:
    block = (row.content or {}).get(PROPOSAL_KEY)
    if not isinstance(block, dict) or row.kind != "message":
        return None
    return PostedProposal(
        row.id,
        row.room,
        str(block.get("id")),
        str(block.get("request")),
        row.thread_of,
        row.content,
    )


async def last_seq(conn: AsyncConnection) -> int:
    return (await conn.execute(sa.select(sa.func.max(outbox.c.seq)))).scalar_one() or 0


async def adopt_into_thread(conn: AsyncConnection, after_seq: int, room: str, root: str) -> None:
    """Put the messages written since ``after_seq`` into ``room`` under the thread ``root``."""
    await conn.execute(
        outbox.update()
        .where(
            outbox.c.seq > after_seq,
            outbox.c.room == room,
            outbox.c.kind == "message",
            outbox.c.thread_of.is_(None),
            outbox.c.edits.is_(None),
        )
        .values(thread_of=root)
    )


async def proposal_at(conn: AsyncConnection, room: str, event_id: str) -> PostedProposal | None:
    """The proposal shown by the bot's event ``event_id`` in ``room`` (a reaction's target)."""
    row = (
        await conn.execute(
            sa.select(outbox).where(outbox.c.event_id == event_id, outbox.c.room == room)
        )
    ).first()
    return _proposal(row) if row is not None else None


async def proposal_posts(
    conn: AsyncConnection, *, proposal_id: str | None = None, after_seq: int | None = None
) -> list[PostedProposal]:
    """Messages that showed a proposal: all copies of ``proposal_id`` (one per approving
    partner's room), or every proposal queued after ``after_seq``."""
    query = sa.select(outbox).where(outbox.c.kind == "message", outbox.c.edits.is_(None))
    if after_seq is not None:
        query = query.where(outbox.c.seq > after_seq)
    rows = await conn.execute(query.order_by(outbox.c.seq.desc()).limit(_SCAN))
    found = [p for r in rows if (p := _proposal(r)) is not None]
    if proposal_id is not None:
        found = [p for p in found if p.proposal == proposal_id]
    return found


async def request_thread(conn: AsyncConnection, room: str, request_id: str) -> str | None:
    """The thread root of a request in ``room`` (from any proposal posted there)."""
    rows = await conn.execute(
        sa.select(outbox)
        .where(outbox.c.room == room, outbox.c.thread_of.is_not(None))
        .order_by(outbox.c.seq.desc())
        .limit(_SCAN)
    )
    for r in rows:
        p = _proposal(r)
        if p is not None and p.request == request_id:
            return p.thread_of
    return None
