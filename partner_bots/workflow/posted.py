"""What the bot posted, by key: which event shows which proposal in which room
(``proposal_posts``, written as each copy is delivered), and which thread a request lives
in, per room (``request_threads``). Both are looked up by key, never by scanning the
outbox, so a proposal of any age is found in one indexed query.

The core writes proposals without knowing about threads; the workflow moves the rows a use
case just wrote (still uncommitted, same transaction) into the request's thread, in every
partner room they went to. In the room a request was filed in, the thread hangs off the
partner's ``!dsx request``; in another approving partner's room nobody asked, so the first
copy of a proposal for the request is the thread's root there, and what follows (replies,
the next candidate) joins it. Rooms are keyed by the outbox's address: a Matrix room id,
or ``partner:<handle>`` (the partner's default room, resolved at delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.store.outbox import DEAD, OUTBOX_REF, PARTNER_ROOM, PENDING, ref
from coordinator.store.schema import outbox, proposal_posts, request_threads

PROPOSAL_KEY = "org.dsx.proposal"


@dataclass(frozen=True)
class PostedProposal:
    row: str  # outbox id
    room: str  # the Matrix room once delivered; until then the outbox's address
    proposal: str
    request: str
    thread_of: str | None
    event_id: str | None = None  # once delivered

    @property
    def thread_root(self) -> str:
        """The thread this post belongs to: its own, or the one it starts (an outbox ref
        until delivered; delivery resolves it to the event id)."""
        return self.thread_of or (self.event_id or ref(self.row))


def proposal_block(content: Any) -> dict[str, Any] | None:
    block = (content or {}).get(PROPOSAL_KEY) if isinstance(content, dict) else None
    return block if isinstance(block, dict) else None


def _queued(row: Any) -> PostedProposal | None:
    """A proposal's copy still in the outbox (not delivered yet)."""
    block = proposal_block(row.content)
    if block is None or row.kind != "message" or row.edits is not None:
        return None
    return PostedProposal(
        row.id, row.room, str(block.get("id")), str(block.get("request")), row.thread_of
    )


def _delivered(row: Any) -> PostedProposal:
    return PostedProposal(
        row.message, row.room_id, row.proposal, row.request, row.thread_of, row.event_id
    )


def routable(room: str) -> bool:
    """Partner rooms (a Matrix id or a partner's default address) have request threads;
    engagement rooms and intake queues do not."""
    return room.startswith("!") or room.startswith(PARTNER_ROOM)


async def last_seq(conn: AsyncConnection) -> int:
    return (await conn.execute(sa.select(sa.func.max(outbox.c.seq)))).scalar_one() or 0


# -- written at delivery ---------------------------------------------------------------


def _thread_in(content: dict[str, Any]) -> str | None:
    rel = content.get("m.relates_to")
    if isinstance(rel, dict) and rel.get("rel_type") == "m.thread":
        return str(rel.get("event_id")) or None
    return None


async def record_delivery(
    conn: AsyncConnection,
    message_id: str,
    room: str,
    room_id: str,
    event_id: str,
    content: dict[str, Any],
) -> bool:
    """Remember a delivered copy of a proposal (``content`` as sent); False if the row
    shows none. The request's thread in that room is recorded too when it had none (a
    proposal queued outside the workflow, e.g. by the CLI), and a thread rooted at this
    row's outbox reference now names the event."""
    block = proposal_block(content)
    if block is None or "m.new_content" in content:
        return False
    proposal, request = str(block.get("id")), str(block.get("request"))
    thread = _thread_in(content)
    await conn.execute(proposal_posts.delete().where(proposal_posts.c.message == message_id))
    await conn.execute(
        proposal_posts.insert().values(
            message=message_id,
            proposal=proposal,
            request=request,
            room=room,
            room_id=room_id,
            event_id=event_id,
            thread_of=thread,
        )
    )
    await conn.execute(
        request_threads.update()
        .where(request_threads.c.root == ref(message_id))
        .values(root=event_id)
    )
    await set_request_thread(conn, request, room, thread or event_id)
    return True


# -- looked up by key ------------------------------------------------------------------


async def proposal_at(conn: AsyncConnection, room: str, event_id: str) -> PostedProposal | None:
    """The proposal shown by the bot's event ``event_id`` in ``room`` (a reaction's target)."""
    row = (
        await conn.execute(
            sa.select(proposal_posts).where(
                proposal_posts.c.event_id == event_id, proposal_posts.c.room_id == room
            )
        )
    ).first()
    return _delivered(row) if row is not None else None


async def proposal_posts_of(conn: AsyncConnection, proposal_id: str) -> list[PostedProposal]:
    """Every copy of a proposal (one per approving partner's room): the delivered ones by
    key, and those still waiting in the outbox (only undelivered rows are looked at)."""
    found = [
        _delivered(r)
        for r in await conn.execute(
            sa.select(proposal_posts).where(proposal_posts.c.proposal == proposal_id)
        )
    ]
    seen = {p.row for p in found}
    waiting = await conn.execute(
        sa.select(outbox).where(
            outbox.c.state.in_([PENDING, DEAD]),
            outbox.c.kind == "message",
            outbox.c.edits.is_(None),
        )
    )
    for r in waiting:
        post = _queued(r)
        if post is not None and post.proposal == proposal_id and post.row not in seen:
            found.append(post)
    return found


async def new_proposals(conn: AsyncConnection, after_seq: int) -> list[PostedProposal]:
    """The proposals queued since ``after_seq`` (the current transaction's rows)."""
    rows = await conn.execute(
        sa.select(outbox)
        .where(outbox.c.seq > after_seq, outbox.c.kind == "message", outbox.c.edits.is_(None))
        .order_by(outbox.c.seq)
    )
    return [p for r in rows if (p := _queued(r)) is not None]


async def content_of(conn: AsyncConnection, message_id: str) -> dict[str, Any]:
    found = (
        await conn.execute(sa.select(outbox.c.content).where(outbox.c.id == message_id))
    ).scalar_one_or_none()
    return found if isinstance(found, dict) else {}


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


# -- placing a transaction's new rows --------------------------------------------------


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


async def adopt_elsewhere(
    conn: AsyncConnection, after_seq: int, request_id: str, skip: frozenset[str]
) -> None:
    """Messages about ``request_id`` written since ``after_seq`` in rooms other than ``skip``
    (the command's room, the staff room) join the request's thread in their room, if the
    request has one there; otherwise the first proposal for it there starts it."""
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
    rooms = [r for r in new_rooms.scalars().all() if r not in skip and routable(r)]
    if not rooms:
        return
    proposals = await new_proposals(conn, after_seq)
    for room in rooms:
        root = await request_thread(conn, room, request_id)
        if root is None:  # a first proposal here starts the request's thread
            first = next((p for p in proposals if p.room == room and p.request == request_id), None)
            if first is None:
                continue
            root = await set_request_thread(conn, request_id, room, ref(first.row))
        await adopt_into_thread(conn, after_seq, room, root)


async def thread_new_proposals(conn: AsyncConnection, after_seq: int, skip: frozenset[str]) -> None:
    """Each proposal written since ``after_seq`` (outside ``skip``) joins its own request's
    thread in its room, when the request has one there (a use case that re-routes several
    requests at once, like a removal)."""
    for post in await new_proposals(conn, after_seq):
        if post.room in skip or post.thread_of is not None:
            continue
        root = await request_thread(conn, post.room, post.request)
        if root is not None:
            await conn.execute(
                outbox.update().where(outbox.c.id == post.row).values(thread_of=root)
            )
