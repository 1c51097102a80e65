"""Carrying out what the core decided the Matrix side forgets (coordinator/usecases/forgetting.py).

``room_cleanup`` rows: once every message queued for the engagement room has gone out
(the closing notice among them), the bot redacts each of its own messages in the room
(paged from the homeserver, so nothing depends on what this process remembers), except
the closing notice; removes the provider; leaves and forgets the room; and drops the
room's megolm sessions from its crypto store (partner_bots/room_keys.py).

``redact_event`` rows: redact one message the bot posted (intake details past their
retention window).

Exactly once, crash-safe: every step looks before it acts. A redaction goes with a
transaction id derived from the row and the event, so a retry is deduplicated by the
homeserver, and an event already redacted is skipped; a member already gone is not
removed again; leaving and forgetting a room already left is a no-op. A restart in the
middle re-runs the row and finishes the job without posting anything twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from coordinator.logs import get_logger
from coordinator.store.outbox import WAITING
from coordinator.usecases.forgetting import REDACT_EVENT, ROOM_CLEANUP, RoomCleanup
from partner_bots import room_keys
from partner_bots.delivery import Outgoing, RoomResolver
from partner_bots.raw_api import RawResponse
from partner_bots.sending import SendError
from partner_bots.session import BotSession

log = get_logger(__name__)

KINDS = (ROOM_CLEANUP, REDACT_EVENT)
# The reply to a `!dsx close` typed in the room is queued just after the close commits:
# give it time to be queued (and so to go out before the bot leaves).
GRACE_S = 5.0
WAIT_S = 2.0
NO_SESSIONS = "cleanup_no_session"
KICK_REASON = "The engagement has ended."
PAGE = 100
# What a done row keeps as its "event id": a row that acted on no event names its room.
CLEANED = "cleaned:"
NOTHING = "nothing:"

SessionOf = Callable[[str], Awaitable[BotSession]]


class CleanupOutbox(Protocol):
    async def mark_sent(self, message_id: str, event_id: str) -> None: ...

    async def mark_failed(self, message_id: str, error_code: str, retry_after: float) -> None: ...

    async def event_id_of(self, message_id: str) -> str | None: ...

    async def pending(self, room: str | None = None) -> Sequence[Any]: ...


def _path(*parts: str) -> str:
    return "/_matrix/client/v3/" + "/".join(quote(p, safe="") for p in parts)


def _failure(resp: RawResponse, what: str) -> SendError:
    if resp.status == 429:
        return SendError("M_LIMIT_EXCEEDED", resp.retry_after or 5.0)
    if resp.status >= 500:
        return SendError(f"{what}_{resp.status}", 5.0)
    return SendError(resp.errcode or f"{what}_{resp.status}", None)


class RoomJanitor:
    """One account's Matrix actions for forgetting a room (all through the raw API)."""

    def __init__(self, session: BotSession):
        self.session = session

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, **query: str
    ) -> RawResponse:
        try:
            return await self.session.raw.request(method, path, body, **query)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"network:{type(exc).__name__}", 2.0) from exc

    async def joined(self, room_id: str) -> bool:
        resp = await self._call("GET", _path("joined_rooms"))
        if not resp.ok:
            raise _failure(resp, "joined_rooms")
        return room_id in (resp.body.get("joined_rooms") or [])

    async def own_events(self, room_id: str) -> list[str]:
        """The bot's own events in the room not redacted yet, newest first (state events,
        which make up the room itself, and redactions excluded)."""
        own, found, token = self.session.user_id, [], ""
        query = {"dir": "b", "limit": str(PAGE), "filter": json.dumps({"senders": [own]})}
        while True:
            params = {**query, **({"from": token} if token else {})}
            resp = await self._call("GET", _path("rooms", room_id, "messages"), None, **params)
            if not resp.ok:
                raise _failure(resp, "messages")
            chunk = resp.body.get("chunk") or []
            for event in chunk:
                if event.get("sender") != own or "state_key" in event:
                    continue
                if event.get("type") == "m.room.redaction":
                    continue
                if "redacted_because" in (event.get("unsigned") or {}):
                    continue
                found.append(str(event.get("event_id")))
            token = str(resp.body.get("end") or "")
            if not chunk or not token:
                return found

    async def redact(self, room_id: str, event_id: str, tx_id: str) -> str:
        resp = await self._call("PUT", _path("rooms", room_id, "redact", event_id, tx_id), {})
        if not resp.ok:
            raise _failure(resp, "redact")
        return str(resp.body.get("event_id", ""))

    async def remove(self, room_id: str, user_id: str) -> bool:
        """Kick ``user_id`` unless they are already out; True if a kick was sent."""
        state = await self._call("GET", _path("rooms", room_id, "state", "m.room.member", user_id))
        if state.status == 404:
            return False
        if not state.ok:
            raise _failure(state, "member")
        if state.body.get("membership") not in ("join", "invite", "knock"):
            return False
        resp = await self._call(
            "POST", _path("rooms", room_id, "kick"), {"user_id": user_id, "reason": KICK_REASON}
        )
        if not resp.ok:
            raise _failure(resp, "kick")
        return True

    async def leave_and_forget(self, room_id: str) -> None:
        if await self.joined(room_id):
            resp = await self._call("POST", _path("rooms", room_id, "leave"), {})
            if not resp.ok:
                raise _failure(resp, "leave")
        resp = await self._call("POST", _path("rooms", room_id, "forget"), {})
        if not resp.ok and (resp.status == 429 or resp.status >= 500):
            raise _failure(resp, "forget")
        # Not in the room any more (or never was): a 4xx here means nothing is left to do.
        async with self.session.crypto_lock:
            room_keys.drop_room_sessions(self.session.client, room_id)
        self.session.client.rooms.pop(room_id, None)


def redaction_tx(row: str, event_id: str) -> str:
    """The same (row, event) always gets the same transaction id: a retry posts once."""
    return f"{row}.{hashlib.sha256(event_id.encode()).hexdigest()[:20]}"


class Forgetting:
    """Delivers ``room_cleanup`` and ``redact_event`` rows (hooked into WorkflowDelivery)."""

    def __init__(
        self,
        outbox: CleanupOutbox,
        rooms: RoomResolver,
        sessions: SessionOf | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.outbox = outbox
        self.rooms = rooms
        self.sessions = sessions
        self.clock = clock

    async def deliver(self, message: Outgoing) -> bool:
        try:
            done = await (
                self._cleanup(message) if message.kind == ROOM_CLEANUP else self._redact(message)
            )
        except SendError as exc:
            await self.outbox.mark_failed(message.id, exc.code, exc.retry_after or 300.0)
            if not exc.code.startswith(WAITING):
                log.warning("forgetting.failed", kind=message.kind, code=exc.code)
            return False
        await self.outbox.mark_sent(message.id, done)
        return True

    async def _session(self, room: str) -> BotSession:
        if self.sessions is None:
            raise SendError(NO_SESSIONS, 60.0)
        return await self.sessions(room)

    async def _cleanup(self, message: Outgoing) -> str:
        cleanup = RoomCleanup.of(message.content)
        waited = (self.clock() - message.created_at).total_seconds()
        if waited < GRACE_S:
            raise SendError(WAITING + "grace", GRACE_S - waited)
        room_id = await self.rooms.resolve(cleanup.room)
        for address in {cleanup.room, room_id}:
            if address and await self.outbox.pending(address):
                raise SendError(WAITING + "room_messages", WAIT_S)
        if room_id is None:
            return NOTHING + message.id  # the room was never created: nothing to forget
        janitor = RoomJanitor(await self._session(cleanup.room))
        if not await janitor.joined(room_id):
            if cleanup.leave:  # a restart after leaving: forget, drop the keys (idempotent)
                await janitor.leave_and_forget(room_id)
            return CLEANED + room_id
        if cleanup.redact:
            keep = {await self.outbox.event_id_of(k) for k in cleanup.keep}
            redacted = 0
            for event_id in await janitor.own_events(room_id):
                if event_id not in keep:
                    await janitor.redact(room_id, event_id, redaction_tx(message.id, event_id))
                    redacted += 1
            log.info("forgetting.redacted", count=redacted)
        for member in cleanup.remove:
            await janitor.remove(room_id, member)
        if cleanup.leave:
            await janitor.leave_and_forget(room_id)
            log.info("forgetting.left_room")
        return CLEANED + room_id

    async def _redact(self, message: Outgoing) -> str:
        target = str(message.content.get("target", ""))
        event_id = await self.outbox.event_id_of(target)
        room_id = await self.rooms.resolve(message.room)
        if event_id is None or room_id is None:
            return NOTHING + message.id  # never delivered (or no room): nothing shows it
        janitor = RoomJanitor(await self._session(room_id))
        return await janitor.redact(room_id, event_id, message.id)
