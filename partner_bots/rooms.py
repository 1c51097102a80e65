"""Which rooms the bot works in: registered and encrypted ones, nothing else.

* Invites are accepted only to registered rooms; others are declined. With several bot
  accounts, "registered" means registered *and* served by this account
  (``partner_bots.accounts``). Joins go through the raw API with ``via`` servers (nio's
  ``join`` cannot pass them); joins and declines are retried with backoff, because either
  can fail with 403 right after a federated invite.
* In a room without encryption the bot says once why it will not work there and hands
  none of its events on; nothing the bot sends can leak a case into it. It judges only
  rooms whose state, asked of the homeserver, has no encryption and that it did not create
  itself: a sync can show a room before all of its initial state (one just created), and
  the bot creates encrypted rooms only, so it never says this into an encrypted room.
* Leaves, kicks and bans are reported to a callback (the coordinator marks the room).
* Power levels follow room version 12: the creator and ``additional_creators`` outrank
  everyone, which nio's ``PowerLevels`` does not know.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

import aiohttp
from nio import MegolmEvent, SyncResponse

from coordinator.logs import get_logger
from partner_bots import room_keys
from partner_bots.backoff import Backoff
from partner_bots.render.notice import notice
from partner_bots.sending import Sender, SendError
from partner_bots.session import BotSession

log = get_logger(__name__)

UNENCRYPTED_NOTICE = (
    "I only work in end-to-end encrypted rooms, and this room is not encrypted. "
    "Please ask a room admin to enable encryption (room settings → Security & Privacy), "
    "or invite me to an encrypted room."
)
CREATOR_POWER = float("inf")


class RoomRegistry(Protocol):
    async def is_registered(self, room_id: str) -> bool: ...


class Departure(enum.Enum):
    LEFT = "left"
    KICKED = "kicked"
    BANNED = "banned"


@dataclass(frozen=True)
class RoomDeparture:
    room_id: str
    kind: Departure
    by: str | None


DepartureCallback = Callable[[RoomDeparture], Awaitable[None]]


def server_of(mxid: str) -> str | None:
    return mxid.split(":", 1)[1] if ":" in mxid else None


class RoomPolicy:
    """A sync observer that enforces where the bot works."""

    def __init__(
        self,
        session: BotSession,
        registry: RoomRegistry,
        sender: Sender,
        *,
        on_departure: DepartureCallback | None = None,
        join_timeout: float = 60.0,
        backoff: Backoff | None = None,
    ):
        self.session = session
        self.registry = registry
        self.sender = sender
        self.on_departure = on_departure
        self.join_timeout = join_timeout
        self.backoff = backoff or Backoff(base=0.3, cap=5.0)
        self.declined: set[str] = set()
        self.refused: set[str] = set()
        self._joining: dict[str, asyncio.Task[bool]] = {}
        self._declining: dict[str, asyncio.Task[bool]] = {}

    # -- SyncObserver --------------------------------------------------------------------

    async def before_dispatch(self, resp: SyncResponse) -> None:
        for room_id, info in resp.rooms.invite.items():
            await self._on_invite(room_id, info)
        for room_id in resp.rooms.join:
            await self._check_encrypted(room_id)
        for room_id, info in resp.rooms.leave.items():
            await self._on_leave(room_id, info)

    def may_dispatch(self, room_id: str) -> bool:
        room = self.session.client.rooms.get(room_id)
        return room is not None and room.encrypted

    def hold(self, room_id: str, event: MegolmEvent) -> bool:
        return False

    async def after_dispatch(self, resp: SyncResponse, dispatch: object) -> None:
        return None

    # -- invites -------------------------------------------------------------------------

    async def _on_invite(self, room_id: str, info: object) -> None:
        if room_id in self._joining or room_id in self.declined:
            return
        own = self.session.user_id
        inviter = None
        for event in getattr(info, "invite_state", []):
            if getattr(event, "state_key", None) == own and getattr(event, "sender", None):
                inviter = event.sender
        if not await self.registry.is_registered(room_id):
            self.declined.add(room_id)
            self._declining[room_id] = asyncio.create_task(self.decline(room_id))
            return
        via = [s for s in {server_of(inviter or ""), server_of(room_id)} if s]
        self._joining[room_id] = asyncio.create_task(self.join(room_id, via))

    async def decline(self, room_id: str) -> bool:
        """Reject the invite, with retries: rejecting a federated invite goes through the
        inviting server and fails now and then right after the invite, as a join does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.join_timeout
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/leave"
        attempt = 0
        try:
            while True:
                attempt += 1
                resp = await self.session.raw.request("POST", path, {})
                if resp.ok:
                    log.info("room.invite_declined", room=room_id, attempts=attempt)
                    return True
                if loop.time() > deadline:
                    log.warning("room.decline_failed", room=room_id, code=resp.errcode)
                    return False
                await asyncio.sleep(self.backoff.delay(attempt, resp.retry_after))
        finally:
            self._declining.pop(room_id, None)

    async def join(self, room_id: str, via: list[str]) -> bool:
        """Join with retries; True when joined."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.join_timeout
        attempt = 0
        try:
            while True:
                attempt += 1
                resp = await self.session.raw.join(room_id, via)
                if resp.ok:
                    log.info("room.joined", room=room_id, attempts=attempt)
                    return True
                if loop.time() > deadline:
                    log.warning("room.join_failed", room=room_id, code=resp.errcode)
                    return False
                await asyncio.sleep(self.backoff.delay(attempt, resp.retry_after))
        finally:
            self._joining.pop(room_id, None)

    # -- encryption ----------------------------------------------------------------------

    async def _check_encrypted(self, room_id: str) -> None:
        room = self.session.client.rooms.get(room_id)
        if room is None or room.encrypted:
            self.refused.discard(room_id)
            return
        if room_id in self.refused:
            return
        if not await self._unencrypted_on_server(room_id):
            return  # encrypted (nio has not seen it yet), or not known yet: a later sync
        self.refused.add(room_id)
        log.info("room.unencrypted_refused", room=room_id)
        with contextlib.suppress(SendError):
            await self.sender.send(
                room_id,
                "m.room.message",
                notice(UNENCRYPTED_NOTICE, extra={"org.dsx.reply": _refusal()}),
                tx_id=f"dsx-unencrypted-{room_id}",
                allow_unencrypted=True,
            )

    async def _unencrypted_on_server(self, room_id: str) -> bool:
        """True only when the homeserver says the room has no encryption state and the
        room is not one the bot created (those are created encrypted)."""
        state = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/state"
        raw = self.session.raw
        try:
            encryption = await raw.request("GET", f"{state}/m.room.encryption/")
            if encryption.ok or encryption.errcode != "M_NOT_FOUND":
                return False
            create = await raw.request("GET", f"{state}/m.room.create/", format="event")
        except (aiohttp.ClientError, TimeoutError):
            return False  # asked again on the room's next sync
        if not create.ok:
            return False
        return create.body.get("sender") != self.session.user_id

    # -- leaving -------------------------------------------------------------------------

    async def _on_leave(self, room_id: str, info: object) -> None:
        own = self.session.user_id
        # Out of the room, however it happened: keep no key to its history
        # (docs/security.md, "What the Matrix side keeps").
        async with self.session.crypto_lock:
            room_keys.drop_room_sessions(self.session.client, room_id)
        kind, by = Departure.LEFT, None
        for event in getattr(getattr(info, "timeline", None), "events", []):
            if getattr(event, "state_key", None) != own:
                continue
            membership = getattr(event, "membership", None)
            sender = getattr(event, "sender", None)
            if membership == "ban":
                kind, by = Departure.BANNED, sender
            elif membership == "leave" and sender != own:
                kind, by = Departure.KICKED, sender
            elif membership == "leave":
                kind, by = Departure.LEFT, sender
        if room_id in self.declined:
            return
        log.info("room.departed", room=room_id, kind=kind.value)
        if self.on_departure is not None:
            await self.on_departure(RoomDeparture(room_id, kind, by))


def _refusal() -> dict[str, object]:
    return {
        "command": None,
        "ok": False,
        "error": {"code": "unencrypted_room", "message": "this room is not encrypted"},
    }


# -- power levels ----------------------------------------------------------------------


def _creators_outrank(room_version: str) -> bool:
    try:
        return int(room_version) >= 12
    except ValueError:
        return False


async def power_of(session: BotSession, room_id: str, user_id: str) -> float:
    """The user's power level, with room v12 creators (and additional creators) unlimited."""
    resp = await session.raw.request(
        "GET",
        f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/state/m.room.create/",
        format="event",
    )
    if resp.ok:
        event = resp.body
        content = event.get("content", event)
        if _creators_outrank(str(content.get("room_version", "1"))):
            # In v12 the creator is the create event's sender; content.creator is gone.
            creators = {event.get("sender"), content.get("creator")}
            creators |= set(content.get("additional_creators") or [])
            if user_id in creators:
                return CREATOR_POWER
    room = session.client.rooms.get(room_id)
    if room is None:
        return 0
    return room.power_levels.get_user_level(user_id)
