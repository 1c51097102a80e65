"""Transactional outbox: messages a use case wants sent, written in its transaction.

The Matrix side claims rows, sends each with the outbox id as the transaction id (so
a resend after a crash is deduplicated by the homeserver) and marks them sent. Rows of
one room are handed out in creation order, and never past an earlier row of the same
room that another worker holds or that waits for a retry.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.store.clock import aware, utcnow
from coordinator.store.locks import OUTBOX_CLAIM_LOCK, advisory_xact_lock
from coordinator.store.schema import intake_queue, outbox
from coordinator.store.sealed import INTAKE_DETAILS

PENDING, SENT, DEAD = "pending", "sent", "dead"
MAX_ATTEMPTS = 12
OUTBOX_REF = "outbox:"


@dataclass(frozen=True)
class OutgoingMessage:
    id: str
    room: str
    kind: str
    content: dict
    thread_of: str | None
    reply_to: str | None
    edits: str | None
    created_at: datetime
    attempts: int


def is_transient(error_code: str) -> bool:
    """Failures of the way there (network, rate limit), which a retry outlasts."""
    return error_code.startswith("network:") or error_code == "M_LIMIT_EXCEEDED"


def new_message_id() -> str:
    return secrets.token_hex(10)


def ref(message_id: str) -> str:
    """How one outbox row names another whose Matrix event id is not known yet."""
    return OUTBOX_REF + message_id


PARTNER_ROOM = "partner:"


def partner_address(handle: str) -> str:
    """How the core names a partner's room when no request says which one (intake, a
    referral, a partner without a request thread yet): delivery resolves it to one of the
    partner's encrypted rooms (``partner_bots.workflow.rooms.PartnerRooms``)."""
    return PARTNER_ROOM + handle


async def enqueue(
    conn: AsyncConnection,
    *,
    room: str,
    kind: str,
    content: Mapping[str, Any],
    now: datetime,
    thread_of: str | None = None,
    reply_to: str | None = None,
    edits: str | None = None,
) -> str:
    message_id = new_message_id()
    await conn.execute(
        outbox.insert().values(
            id=message_id,
            room=room,
            kind=kind,
            content=dict(content),
            thread_of=thread_of,
            reply_to=reply_to,
            edits=edits,
            created_at=now,
            state=PENDING,
            attempts=0,
            available_at=now,
        )
    )
    return message_id


def _message(row: Any) -> OutgoingMessage:
    return OutgoingMessage(
        id=row.id,
        room=row.room,
        kind=row.kind,
        content=row.content if isinstance(row.content, dict) else {},
        thread_of=row.thread_of,
        reply_to=row.reply_to,
        edits=row.edits,
        created_at=aware(row.created_at),
        attempts=row.attempts,
    )


# Who to tell when a message is given up on: (room, content) of a notice, or None.
DeadNotice = Callable[[str, str, str], tuple[str, Mapping[str, Any]] | None]


class Outbox:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], datetime] = utcnow,
        dead_notice: DeadNotice | None = None,
    ):
        self._engine = engine
        self._clock = clock
        self._dead_notice = dead_notice

    async def claim(
        self, worker: str, limit: int = 20, lease_seconds: int = 60
    ) -> list[OutgoingMessage]:
        """Lease up to ``limit`` deliverable rows to ``worker``."""
        now = self._clock()
        window = max(limit * 10, 100)
        async with self._engine.begin() as conn:
            # Claims are short; serialising them keeps the per-room order exact.
            await advisory_xact_lock(conn, OUTBOX_CLAIM_LOCK)
            query = (
                sa.select(outbox)
                .where(outbox.c.state == PENDING)
                .order_by(outbox.c.seq)
                .limit(window)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).all()
            blocked: set[str] = set()
            taken: list[Any] = []
            for row in rows:
                if len(taken) >= limit:
                    break
                if row.room in blocked:
                    continue
                lease = aware(row.lease_until)
                held = lease is not None and lease > now and row.claimed_by != worker
                waiting = aware(row.available_at) > now
                if held or waiting:
                    blocked.add(row.room)
                    continue
                taken.append(row)
            if not taken:
                return []
            until = now + timedelta(seconds=lease_seconds)
            await conn.execute(
                outbox.update()
                .where(outbox.c.seq.in_([r.seq for r in taken]))
                .values(claimed_by=worker, lease_until=until, attempts=outbox.c.attempts + 1)
            )
        return [_claimed(r) for r in taken]

    async def mark_sent(self, message_id: str, event_id: str) -> None:
        """Delivered, not stored: the row keeps what exactly-once needs (its id, room,
        event id and state) and its content is deleted; the room has the message. A
        public-form submission's delivery is dated on its queue row, where the retention
        window starts (coordinator/retention.py)."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(outbox.c.kind, outbox.c.content).where(outbox.c.id == message_id)
                )
            ).first()
            if row is not None and row.kind == INTAKE_DETAILS and isinstance(row.content, dict):
                await conn.execute(
                    intake_queue.update()
                    .where(
                        intake_queue.c.reference == str(row.content.get("reference")),
                        intake_queue.c.delivered_at.is_(None),
                    )
                    .values(delivered_at=self._clock())
                )
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id)
                .values(
                    state=SENT, event_id=event_id, lease_until=None, error_code=None, content=None
                )
            )

    async def mark_failed(self, message_id: str, error_code: str, retry_after: float) -> None:
        """Release the lease; retry after ``retry_after`` seconds, or give up for good."""
        now = self._clock()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        outbox.c.attempts, outbox.c.room, outbox.c.claimed_by, outbox.c.seq
                    ).where(outbox.c.id == message_id)
                )
            ).first()
            if row is None:
                return
            attempts = row.attempts
            # The rows of this room claimed with it were not tried (delivery stops at the
            # first failure to keep the order): their claim is not an attempt either, or a
            # long wait behind this one would leave them one failure from dead.
            await conn.execute(
                outbox.update()
                .where(
                    outbox.c.room == row.room,
                    outbox.c.claimed_by == row.claimed_by,
                    outbox.c.seq > row.seq,
                    outbox.c.state == PENDING,
                    outbox.c.attempts > 0,
                )
                .values(attempts=outbox.c.attempts - 1)
            )
            if is_transient(error_code):
                # The homeserver was unreachable or busy: not the message's fault. Counting
                # these made every room's head row dead (lost) after ~25 s of outage (found
                # by tests/drills/test_outage.py); give the claim's attempt back instead.
                attempts, state = max(0, attempts - 1), PENDING
            else:
                state = DEAD if attempts >= MAX_ATTEMPTS else PENDING
                if state == DEAD:
                    await self._tell_of_dead(conn, row.room, message_id, error_code, now)
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id)
                .values(
                    state=state,
                    attempts=attempts,
                    error_code=error_code[:80],
                    lease_until=None,
                    claimed_by=None,
                    available_at=now + timedelta(seconds=max(0.0, retry_after)),
                )
            )

    async def _tell_of_dead(
        self, conn: AsyncConnection, room: str, message_id: str, code: str, now: datetime
    ) -> None:
        """Queue one notice (to the staff room) in the transaction that gives up, so a
        dead message is never silent; a notice for the notice's own room is not sent."""
        notice = self._dead_notice(room, message_id, code) if self._dead_notice else None
        if notice is not None and notice[0] and notice[0] != room:
            await enqueue(conn, room=notice[0], kind="message", content=notice[1], now=now)

    async def event_id_of(self, message_id: str) -> str | None:
        if message_id.startswith(OUTBOX_REF):
            message_id = message_id[len(OUTBOX_REF) :]
        async with self._engine.connect() as conn:
            return (
                await conn.execute(sa.select(outbox.c.event_id).where(outbox.c.id == message_id))
            ).scalar_one_or_none()

    async def pending(self, room: str | None = None) -> list[OutgoingMessage]:
        """Unsent rows in creation order (for tests, the dashboard and `dsx doctor`)."""
        query = sa.select(outbox).where(outbox.c.state == PENDING).order_by(outbox.c.seq)
        if room is not None:
            query = query.where(outbox.c.room == room)
        async with self._engine.connect() as conn:
            return [_message(r) for r in await conn.execute(query)]


def _claimed(row: Any) -> OutgoingMessage:
    message = _message(row)
    return OutgoingMessage(**{**message.__dict__, "attempts": row.attempts + 1})


@dataclass(frozen=True)
class StuckMessage:
    """What an operator may see of an undelivered row: never its content."""

    id: str
    room: str
    kind: str
    state: str
    attempts: int
    error_code: str | None
    created_at: datetime


async def stuck(engine: AsyncEngine, *, dead_only: bool = False) -> list[StuckMessage]:
    """Rows given up on (``dead``) and, unless ``dead_only``, rows still waiting."""
    states = [DEAD] if dead_only else [DEAD, PENDING]
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                outbox.c.id,
                outbox.c.room,
                outbox.c.kind,
                outbox.c.state,
                outbox.c.attempts,
                outbox.c.error_code,
                outbox.c.created_at,
            )
            .where(outbox.c.state.in_(states))
            .order_by(outbox.c.seq)
        )
        return [
            StuckMessage(
                r.id, r.room, r.kind, r.state, r.attempts, r.error_code, aware(r.created_at)
            )
            for r in rows
        ]


async def requeue_dead(conn: AsyncConnection, ids: list[str] | None, now: datetime) -> list[str]:
    """Give dead rows (all, or those in ``ids``) a fresh set of attempts, due now.

    Each goes out with its original transaction id, so a row that did reach the room
    before it was given up on still appears there once.
    """
    query = sa.select(outbox.c.id).where(outbox.c.state == DEAD).order_by(outbox.c.seq)
    if ids is not None:
        query = query.where(outbox.c.id.in_(ids))
    found = list((await conn.execute(query)).scalars())
    if found:
        await conn.execute(
            outbox.update()
            .where(outbox.c.id.in_(found))
            .values(
                state=PENDING,
                attempts=0,
                available_at=now,
                lease_until=None,
                claimed_by=None,
            )
        )
    return found
