"""Outbox delivery: the coordinator's queued messages, posted exactly once, in order.

Each row is sent with its outbox id as the Matrix transaction id. If the process dies
after the homeserver accepted an event but before ``mark_sent``, the row is claimed again
and re-sent with the same id; the homeserver answers with the original event id instead
of posting twice. ``outbox:<id>`` references (threads, replies, edits, reactions) are
resolved to the event ids of rows already sent; a row whose reference is not sent yet
waits, and so does the rest of its room, keeping creation order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from coordinator import notifications as n
from coordinator.logs import get_logger
from partner_bots.render.notifications import Where, render
from partner_bots.render.relations import as_reply, edit, in_thread, reaction
from partner_bots.sending import Sender, SendError

log = get_logger(__name__)

OUTBOX_REF = "outbox:"
WAIT_FOR_REFERENCE_S = 1.0
PERMANENT_RETRY_S = 300.0


class Outgoing(Protocol):
    id: str
    room: str
    kind: str
    content: dict
    thread_of: str | None
    reply_to: str | None
    edits: str | None
    created_at: datetime
    attempts: int


class OutboxPort(Protocol):
    """What delivery needs from ``coordinator.store.Outbox``."""

    async def claim(
        self, worker: str, limit: int = 20, lease_seconds: int = 60
    ) -> Sequence[Outgoing]: ...

    async def mark_sent(self, message_id: str, event_id: str) -> None: ...

    async def mark_failed(self, message_id: str, error_code: str, retry_after: float) -> None: ...

    async def event_id_of(self, message_id: str) -> str | None: ...


class RoomResolver(Protocol):
    """Maps the outbox's room field to a Matrix room id (None: not known yet)."""

    async def resolve(self, room: str) -> str | None: ...


class MatrixIdsOnly:
    async def resolve(self, room: str) -> str | None:
        return room if room.startswith("!") else None


class Unresolved(Exception):
    """A reference (a row, a room) the message needs is not known yet: it waits."""


@dataclass(frozen=True)
class RoundResult:
    sent: int
    deferred: int


def references(message: Outgoing) -> tuple[str | None, ...]:
    """What a row waits for: its relations (``outbox:<id>``) and, for a notification, the
    rooms it names by Matrix id (their addresses)."""
    named: tuple[str, ...] = ()
    if message.kind == n.ROW_KIND:
        with contextlib.suppress(n.UnknownNotification):
            named = tuple(r.address for r in n.decode(message.content).notification.rooms_named())
    return (message.thread_of, message.reply_to, message.edits, *named)


def _waits_on(
    rows: list[Outgoing],
    ids: set[str],
    refs: Callable[[Outgoing], tuple[str | None, ...]] = references,
    rooms: frozenset[str] = frozenset(),
) -> bool:
    """Whether a row of one room refers to a row of the same batch in another room, or
    names another room of the batch (``rooms``: their addresses) by its Matrix id."""
    own = {m.id for m in rows}
    for message in rows:
        for value in refs(message):
            if value and value.startswith(OUTBOX_REF):
                target = value[len(OUTBOX_REF) :]
                if target in ids and target not in own:
                    return True
            elif value and value in rooms and value != message.room:
                return True
    return False


class Delivery:
    def __init__(
        self,
        sender: Sender,
        outbox: OutboxPort,
        worker: str,
        *,
        rooms: RoomResolver | None = None,
        lease_seconds: int = 60,
        batch: int = 20,
        idle_seconds: float = 1.0,
    ):
        self.sender = sender
        self.outbox = outbox
        self.worker = worker
        self.rooms = rooms or MatrixIdsOnly()
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Tell the loop new rows were committed (saves waiting for the idle poll)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                result = await self.deliver_once()
            except Exception as exc:  # the store or the network: try again shortly
                log.warning("delivery.round_failed", error=type(exc).__name__)
                result = RoundResult(0, 0)
            if result.sent == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
                self._wake.clear()

    async def deliver_once(self) -> RoundResult:
        """Claim a batch and deliver it: each room's rows in creation order, the rooms at
        the same time (sent one room after another, the round trips added up and capped
        the request rate: bench/load.py)."""
        claimed = await self.outbox.claim(self.worker, self.batch, self.lease_seconds)
        by_room: dict[str, list[Outgoing]] = {}
        for message in claimed:
            by_room.setdefault(message.room, []).append(message)
        # Rooms whose rows point at a row of this batch in another room (an intake's
        # details at their notice) go once that room is done, not in parallel with it.
        ids = {m.id for m in claimed}
        first: list[list[Outgoing]] = []
        then: list[list[Outgoing]] = []
        rooms = frozenset(by_room)
        for rows in by_room.values():
            (then if _waits_on(rows, ids, self._references, rooms) else first).append(rows)
        # Every room finishes before the round ends: a row still in flight must not be
        # claimed again by this worker's next round.
        done: list[RoundResult | BaseException] = []
        for phase in (first, then):
            done += await asyncio.gather(
                *(self._deliver_room(rows) for rows in phase), return_exceptions=True
            )
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        return RoundResult(
            sum(r.sent for r in done if isinstance(r, RoundResult)),
            sum(r.deferred for r in done if isinstance(r, RoundResult)),
        )

    def _references(self, message: Outgoing) -> tuple[str | None, ...]:
        """The references a row waits for (``outbox:<id>``, or a room address); a subclass
        may add some from its content."""
        return references(message)

    def _send_options(self, message: Outgoing) -> dict[str, Any]:
        """Extra ``Sender.send`` options for a row; a subclass may set some (a single-use
        megolm session for intake details: workflow/rooms.py)."""
        return {}

    async def _thread(self, message: Outgoing) -> str | None:
        """The thread a row without an explicit one goes into; a subclass looks it up."""
        return None

    async def _delivered(
        self, message: Outgoing, room_id: str, event_id: str, content: dict[str, Any]
    ) -> None:
        """Called once the homeserver accepted the row, before it is marked sent (a crash
        in between re-sends it with the same transaction id: the same event id again)."""
        return None

    async def _deliver_room(self, messages: list[Outgoing]) -> RoundResult:
        for i, message in enumerate(messages):
            if not await self._deliver(message):
                # Keep order: the rest of this room stays leased to us and is claimed
                # again only once the failed row may go (the outbox blocks the room).
                return RoundResult(i, len(messages) - i)
        return RoundResult(len(messages), 0)

    async def _deliver(self, message: Outgoing) -> bool:
        room = await self.rooms.resolve(message.room)
        if room is None:
            await self.outbox.mark_failed(message.id, "room_unknown", WAIT_FOR_REFERENCE_S)
            return False
        try:
            event_type, content = await self._build(message)
            sent = await self.sender.send(
                room, event_type, content, tx_id=message.id, **self._send_options(message)
            )
            await self._delivered(message, room, sent.event_id, content)
        except Unresolved:
            await self.outbox.mark_failed(message.id, "waiting_reference", WAIT_FOR_REFERENCE_S)
            return False
        except SendError as exc:
            retry = PERMANENT_RETRY_S if exc.permanent else exc.retry_after
            await self.outbox.mark_failed(message.id, exc.code, retry or WAIT_FOR_REFERENCE_S)
            log.warning("delivery.failed", code=exc.code, attempts=message.attempts)
            return False
        await self.outbox.mark_sent(message.id, sent.event_id)
        return True

    async def _ref(self, value: str | None) -> str | None:
        if value is None or not value.startswith(OUTBOX_REF):
            return value
        event_id = await self.outbox.event_id_of(value[len(OUTBOX_REF) :])
        if event_id is None:
            raise Unresolved(value)
        return event_id

    async def _content(self, message: Outgoing) -> dict[str, Any]:
        """The event content a row stands for: a core notification rendered by its kind's
        renderer, once the rooms it names exist; a subclass may compute more at send time
        (after its references resolved), e.g. open sealed details (workflow/intake.py)."""
        if message.kind != n.ROW_KIND:
            return dict(message.content)
        try:
            queued = n.decode(message.content)
        except n.UnknownNotification:
            raise SendError("notification_unknown", None) from None
        room_ids = {}
        for room in queued.notification.rooms_named():
            room_id = await self.rooms.resolve(room.address)
            if room_id is None:
                raise Unresolved(room.address)
            room_ids[room.address] = room_id
        return render(queued.notification, Where(queued.room, room_ids))

    async def _build(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        thread = await self._ref(message.thread_of)
        reply = await self._ref(message.reply_to)
        edits = await self._ref(message.edits)
        if thread is None and edits is None and message.kind != "reaction":
            thread = await self._thread(message)
        content = await self._content(message)
        if message.kind == "reaction":
            target = reply or edits or thread
            if target is None:
                raise SendError("reaction_without_target", None)
            return "m.reaction", reaction(target, str(content["key"]))
        if edits is not None:
            return "m.room.message", edit(edits, content)
        if thread is not None:
            return "m.room.message", in_thread(content, thread, reply, replying=reply is not None)
        if reply is not None:
            content = as_reply(content, reply)
        return "m.room.message", content
