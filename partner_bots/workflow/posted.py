"""What the bot already posted, read back from the outbox: which proposal an event shows,
which thread a request lives in, and new rows to place in that thread.

The core writes proposals without knowing about threads; the workflow moves the rows a use
case just wrote (still uncommitted, same transaction) into the request's thread, in every
partner room they went to. In the routing partner's room the thread hangs off the
partner's ``!dsx request``; in another approving partner's room nobody asked, so the first
copy of a proposal for the request is the thread's root there, and what follows (replies,
the next candidate) joins it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.store.outbox import OUTBOX_REF, ref
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
    event_id: str | None = None  # once delivered

    @property
    def thread_root(self) -> str:
        """The thread this post belongs to: its own, or the one it starts (an outbox ref
        until delivered; delivery resolves it to the event id)."""
        return self.thread_of or (self.event_id or ref(self.row))


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
        row.event_id,
    )


async def last_seq(conn: AsyncConnection) -> int:
    return (await conn.execute(sa.select(sa.func.max(outbox.c.seq)))).scalar_one() or 0


async def adopt_into_thread(conn: AsyncConnection, after_seq: int, room: str, root: str) -> None:
    """Put the messages written since ``after_seq`` into ``room`` under the thread ``root``
    (except the root itself, when it is one of them)."""
    query = outbox.update().where(
        outbox.c.seq > after_seq,
        outbox.c.room == room,
        outbox.c.kind == "message",
        outbox.c.thread_of.is_(None),
        outbox.c.edits.is_(None),
    )
    if root.startswith(OUTBOX_REF):
        query = query.where(outbox.c.id != root[len(OUTBOX_REF) :])
    await conn.execute(query.values(thread_of=root))


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


async def request_thread(
    conn: AsyncConnection, room: str, request_id: str, before_seq: int | None = None
) -> str | None:
    """The thread root of a request in ``room``: where its first proposal posted there (up
    to ``before_seq``) sits, or that proposal itself when it started the thread."""
    query = sa.select(outbox).where(
        outbox.c.room == room, outbox.c.kind == "message", outbox.c.edits.is_(None)
    )
    if before_seq is not None:
        query = query.where(outbox.c.seq <= before_seq)
    rows = await conn.execute(query.order_by(outbox.c.seq.desc()).limit(_SCAN))
    first = None
    for r in rows:
        p = _proposal(r)
        if p is not None and p.request == request_id:
            first = p
    return first.thread_root if first is not None else None


async def adopt_elsewhere(
    conn: AsyncConnection, after_seq: int, request_id: str, skip: frozenset[str]
) -> None:
    """Messages about ``request_id`` written since ``after_seq`` in rooms other than ``skip``
    (the command's room, the staff room) join the request's thread in their room, if the
    request has one there; otherwise the first of them starts it."""
    new_rooms = await conn.execute(
        sa.select(outbox.c.room)
        .where(
            outbox.c.seq > after_seq,
            outbox.c.kind == "message",
            outbox.c.thread_of.is_(None),
            outbox.c.edits.is_(None),
        )
        .distinct()
    )
    for room in new_rooms.scalars().all():
        if room in skip or not room.startswith("!"):
            continue  # engagement rooms (logical names) have no request threads
        root = await request_thread(conn, room, request_id, before_seq=after_seq)
        if root is None:  # a first proposal here starts the request's thread
            root = await request_thread(conn, room, request_id)
        if root is not None:
            await adopt_into_thread(conn, after_seq, room, root)


async def thread_new_proposals(conn: AsyncConnection, after_seq: int, skip: frozenset[str]) -> None:
    """Each proposal written since ``after_seq`` (outside ``skip``) joins its own request's
    thread in its room, when the request has one there (a use case that re-routes several
    requests at once, like a removal)."""
    for post in await proposal_posts(conn, after_seq=after_seq):
        if post.room in skip or post.thread_of is not None:
            continue
        root = await request_thread(conn, post.room, post.request, before_seq=after_seq)
        if root is not None:
            await conn.execute(
                outbox.update().where(outbox.c.id == post.row).values(thread_of=root)
            )
