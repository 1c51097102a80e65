"""What the bot posted, by key: which event shows which proposal in which room
(``proposal_posts``: the core writes a row as it queues each copy, delivery completes it),
and which thread a request lives in, per room (``request_threads``). Both are looked up
by key, never by scanning the outbox, so a proposal of any age is found in one indexed
query.

In the room a request was filed in, its thread hangs off the partner's ``!dsx request``
(recorded with the command). In another approving partner's room nobody asked, so the
first delivered copy of a proposal for the request is the thread's root there, and what
follows about the request joins it. Rooms are keyed by the outbox's address: a Matrix
room id, or ``partner:<handle>`` (the partner's default room, resolved at delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.store.schema import proposal_posts, request_threads


@dataclass(frozen=True)
class PostedProposal:
    row: str  # outbox id
    room: str  # the outbox's address
    proposal: str
    request: str
    thread_of: str | None
    room_id: str | None = None  # once delivered
    event_id: str | None = None  # once delivered


def _post(row: Any) -> PostedProposal:
    return PostedProposal(
        row.message, row.room, row.proposal, row.request, row.thread_of, row.room_id, row.event_id
    )


async def record_delivery(
    conn: AsyncConnection,
    message_id: str,
    room_id: str,
    event_id: str,
    thread_of: str | None,
) -> PostedProposal | None:
    """Complete a copy's row once delivered; the request's thread in that room is the copy
    itself when the request had none there. None: the row is no proposal copy."""
    await conn.execute(
        proposal_posts.update()
        .where(proposal_posts.c.message == message_id)
        .values(room_id=room_id, event_id=event_id, thread_of=thread_of)
    )
    row = (
        await conn.execute(sa.select(proposal_posts).where(proposal_posts.c.message == message_id))
    ).first()
    if row is None:
        return None
    await set_request_thread(conn, row.request, row.room, thread_of or event_id)
    return _post(row)


async def proposal_at(conn: AsyncConnection, room: str, event_id: str) -> PostedProposal | None:
    """The proposal shown by the bot's event ``event_id`` in ``room`` (a reaction's target)."""
    row = (
        await conn.execute(
            sa.select(proposal_posts).where(
                proposal_posts.c.event_id == event_id, proposal_posts.c.room_id == room
            )
        )
    ).first()
    return _post(row) if row is not None else None


async def proposal_posts_of(conn: AsyncConnection, proposal_id: str) -> list[PostedProposal]:
    """Every copy of a proposal (one per approving partner's room), delivered or not."""
    found = await conn.execute(
        sa.select(proposal_posts).where(proposal_posts.c.proposal == proposal_id)
    )
    return [_post(r) for r in found]


async def request_thread(conn: AsyncConnection, room: str, request_id: str) -> str | None:
    """The thread root of a request in ``room`` (an outbox address), if it has one there."""
    return (
        await conn.execute(
            sa.select(request_threads.c.root).where(
                request_threads.c.request == request_id, request_threads.c.room == room
            )
        )
    ).scalar_one_or_none()


async def set_request_thread(conn: AsyncConnection, request_id: str, room: str, root: str) -> str:
    """Record the request's thread in ``room`` unless it has one; the thread it lives in."""
    existing = await request_thread(conn, room, request_id)
    if existing is not None:
        return existing
    await conn.execute(request_threads.insert().values(request=request_id, room=room, root=root))
    return root
