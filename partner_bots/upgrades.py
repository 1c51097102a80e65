"""Room upgrades (docs/operator.md, "Room upgrades"): when a registered room (a partner's,
the staff room, an engagement room) is replaced by a new one (``m.room.tombstone`` with a
``replacement_room``), the bot follows it and serves the new room as the same room.

* The tombstone is judged before invites of the same sync are (this observer runs first),
  so the invite into the replacement that Element sends right after upgrading is accepted.
* Only an upgrade by someone who may speak for the room is followed: a listed staff member
  for the staff room, a partner's listed member (or one with the partner power level) for
  its rooms and engagement rooms. A replacement that is already another registered room is
  never followed. A refused upgrade is audited and staff are told; nothing moves.
* Followed, it is recorded in the database (``coordinator.usecases.upgrades``: queued and
  future messages for the old room go to the new one, staff are told to update the
  configuration), the old room is closed to every send of this process
  (``Sender.closed``), and the bot joins the new room if it can; otherwise it joins when
  invited, since the new room now counts as registered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nio import MegolmEvent, SyncResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.logs import get_logger
from coordinator.store import upgrades as store
from coordinator.usecases import Coordinator
from coordinator.usecases.unit import Tx
from coordinator.usecases.upgrades import ENGAGEMENT, PARTNER, STAFF, RoomMoved
from coordinator.usecases.upgrades import follow_room_upgrade as follow_use_case
from partner_bots.render.notifications.staff import staff as staff_notice
from partner_bots.rooms import RoomPolicy, server_of

log = get_logger(__name__)

TOMBSTONE = "m.room.tombstone"


@dataclass(frozen=True)
class RoomUpgrade:
    old_room: str
    new_room: str
    sender: str
    event_id: str


@dataclass(frozen=True)
class UpgradeRefused:
    reason: str


class MovedRooms:
    """The recorded upgrades in memory (loaded at start, added to as they happen): the
    directory reads the staff room through it, and senders refuse the old rooms."""

    def __init__(self, moved: Mapping[str, str] | None = None):
        self.moved: dict[str, str] = dict(moved or {})

    @classmethod
    async def load(cls, engine: AsyncEngine) -> MovedRooms:
        async with engine.connect() as conn:
            return cls(await store.moved_rooms(conn))

    def add(self, old: str, new: str) -> None:
        self.moved[old] = new

    def current(self, room: str) -> str:
        return store.follow(self.moved, room)

    def predecessors(self, room: str) -> list[str]:
        return [old for old, new in self.moved.items() if new == room]

    def __contains__(self, room: object) -> bool:
        """An old room: nothing is sent there any more."""
        return room in self.moved


class Rooms(Protocol):
    """What judging an upgrade needs from ``partner_bots.workflow.directory.Directory``."""

    def is_staff_room(self, room_id: str) -> bool: ...

    async def is_registered(self, room_id: str) -> bool: ...

    async def partner_of_room(self, room_id: str) -> Any: ...  # .handle, .rooms; or None

    async def may_act_for_partner(self, room_id: str, user_id: str) -> bool: ...

    async def may_act_as_staff(self, room_id: str, user_id: str) -> bool: ...

    def engagement_of_room(self, room_id: str) -> str | None: ...


def tombstones(resp: SyncResponse) -> list[RoomUpgrade]:
    """Every tombstone with a replacement in the joined rooms of one sync."""
    found: list[RoomUpgrade] = []
    for room_id, info in resp.rooms.join.items():
        events = [*getattr(info.state, "events", info.state or []), *info.timeline.events]
        for event in events:
            if isinstance(event, MegolmEvent):
                continue
            source: dict[str, Any] = getattr(event, "source", {}) or {}
            content = source.get("content")
            if source.get("type") != TOMBSTONE or source.get("state_key") != "":
                continue
            new = content.get("replacement_room") if isinstance(content, dict) else None
            if isinstance(new, str) and new.startswith("!") and new != room_id:
                found.append(
                    RoomUpgrade(
                        room_id, new, str(source.get("sender", "")), str(source.get("event_id"))
                    )
                )
    return found


class UpgradeFollower:
    """Decides whether an upgrade is followed, and records it."""

    def __init__(self, coordinator: Coordinator, rooms: Rooms, moved: MovedRooms):
        self.coordinator = coordinator
        self.rooms = rooms
        self.moved = moved

    async def _kind(self, up: RoomUpgrade) -> tuple[str, str | None, bool] | None:
        """(what the room is, its partner, whether the upgrader may speak for it)."""
        if self.rooms.is_staff_room(up.old_room):
            return STAFF, None, await self.rooms.may_act_as_staff(up.old_room, up.sender)
        partner = await self.rooms.partner_of_room(up.old_room)
        if partner is None:
            return None
        kind = PARTNER if up.old_room in partner.rooms else ENGAGEMENT
        return kind, partner.handle, await self.rooms.may_act_for_partner(up.old_room, up.sender)

    async def _taken(self, room: str, partner: str | None) -> bool:
        """Already another registered room (a room of the same partner is not another
        one: the operator may have listed the replacement first)."""
        if partner is not None:
            owner = await self.rooms.partner_of_room(room)
            if owner is not None and owner.handle == partner and room in owner.rooms:
                return False
        return (
            await self.rooms.is_registered(room)
            or self.rooms.engagement_of_room(room) is not None
            or room in self.moved.moved.values()
            or room in self.moved
        )

    async def __call__(self, up: RoomUpgrade) -> bool:
        """True when the bot serves ``up.new_room`` in place of ``up.old_room``."""
        if self.moved.moved.get(up.old_room) == up.new_room:
            return True  # seen again (a replay, or a second account's sync)
        if up.old_room in self.moved:
            return False  # upgraded before, to another room: the first one counts
        judged = await self._kind(up)
        if judged is None:
            return False  # not a room the bot works in
        kind, partner, allowed = judged
        if not allowed or await self._taken(up.new_room, partner):
            await self._refuse(up, kind, "not_allowed" if not allowed else "replacement_taken")
            return False
        ctx = self.coordinator.ctx

        async def body(tx: Tx) -> RoomMoved:
            return await follow_use_case(ctx, tx, up.old_room, up.new_room, kind, partner)

        moved = await self.coordinator.transaction(
            "follow_room_upgrade", body, RoomMoved, up.sender, up.event_id
        )
        self.moved.add(up.old_room, up.new_room)
        log.info("room.upgrade_followed", kind=kind, messages=moved.moved_messages)
        return True

    async def _refuse(self, up: RoomUpgrade, kind: str, reason: str) -> None:
        staff_room = self.coordinator.ctx.staff_room
        text = (
            f"A room upgrade was not followed: {up.old_room} → {up.new_room} by {up.sender} "
            + (
                "(only someone who may act for the room can move it)."
                if reason == "not_allowed"
                else "(the replacement is already another registered room)."
            )
            + " I keep serving the old room."
        )

        async def body(tx: Tx) -> UpgradeRefused:
            tx.audit("room.upgrade_refused", up.old_room, kind=kind, reason=reason)
            await tx.send(staff_room, staff_notice(text, kind="room_upgrade_refused"))
            return UpgradeRefused(reason)

        await self.coordinator.transaction(
            "refuse_room_upgrade", body, UpgradeRefused, up.sender, up.event_id
        )
        log.warning("room.upgrade_refused", kind=kind, reason=reason)


class Follower(Protocol):
    async def __call__(self, up: RoomUpgrade) -> bool: ...


class RoomUpgrades:
    """The sync observer: finds tombstones, has them judged, joins the replacement."""

    def __init__(self, follower: Follower):
        self.follower = follower
        self.policy: RoomPolicy | None = None  # set once the bot exists (its joins)
        self.joins: dict[str, asyncio.Task[bool]] = {}

    async def before_dispatch(self, resp: SyncResponse) -> None:
        for up in tombstones(resp):
            if not await self.follower(up):
                continue
            self._join(up)

    def _join(self, up: RoomUpgrade) -> None:
        policy = self.policy
        if policy is None or up.new_room in policy.session.client.rooms:
            return
        policy.declined.discard(up.new_room)  # an invite declined before the tombstone
        if up.new_room in self.joins and not self.joins[up.new_room].done():
            return
        via = [s for s in {server_of(up.sender), server_of(up.old_room)} if s]
        # Joins when the new room lets it (restricted to the old room's members, or
        # public); otherwise the retries run out and the invite, accepted, joins it.
        self.joins[up.new_room] = asyncio.create_task(policy.join(up.new_room, via))

    def may_dispatch(self, room_id: str) -> bool:
        return True

    def hold(self, room_id: str, event: MegolmEvent) -> bool:
        return False

    async def after_dispatch(self, resp: SyncResponse, dispatch: object) -> None:
        return None


class FollowMoved:
    """A delivery room resolver that sends what resolves to an old room to its
    replacement (engagement rooms are addressed by name, resolved to a cached id)."""

    def __init__(self, inner: Any, moved: MovedRooms):
        self.inner = inner
        self.moved = moved

    async def resolve(self, room: str) -> str | None:
        found = await self.inner.resolve(room)
        return None if found is None else self.moved.current(found)

    async def create(self, logical: str, content: dict[str, Any]) -> str:
        return str(await self.inner.create(logical, content))

    def engagement_of_room(self, room_id: str) -> str | None:
        found = self.inner.engagement_of_room(room_id)
        for old in self.moved.predecessors(room_id) if found is None else ():
            found = self.inner.engagement_of_room(old)
            if found is not None:
                break
        return found if isinstance(found, str) else None
