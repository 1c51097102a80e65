"""Who is who in a room: the partner a room belongs to, its listed members, the staff room.

Read from the database on each call (partners registered by `!dsx partner add` count at once);
the table is small and the query indexed by primary key order. An upgraded staff room is
read through ``moved`` (``partner_bots.upgrades``): the configuration names the old one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.config import Config
from coordinator.domain import MembershipStatus
from coordinator.store.schema import engagements, members, partners
from coordinator.store.upgrades import follow

PowerLookup = Callable[[str, str], Awaitable[float]]  # (room id, user id) -> power level


@dataclass(frozen=True)
class PartnerRoom:
    handle: str
    rooms: tuple[str, ...]
    members: frozenset[str]


class Directory:
    def __init__(self, engine: AsyncEngine, config: Config):
        self.engine = engine
        self.config = config
        self.power: PowerLookup | None = None  # set once the bot session exists
        self.engagement_of_room: Callable[[str], str | None] = lambda _room: None
        self.moved: Mapping[str, str] = {}  # room upgrades followed: old room -> new room

    @property
    def staff_room(self) -> str:
        return follow(self.moved, self.config.staff.room) if self.config.staff.room else ""

    def is_staff_room(self, room_id: str) -> bool:
        return bool(self.staff_room) and room_id == self.staff_room

    async def partners(self) -> list[PartnerRoom]:
        query = (
            sa.select(partners.c.handle, partners.c.rooms, partners.c.members)
            .join(members, members.c.id == partners.c.handle)
            .where(members.c.status != MembershipStatus.REMOVED.value)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [PartnerRoom(r.handle, tuple(r.rooms), frozenset(r.members)) for r in rows]

    async def partner_of_room(self, room_id: str) -> PartnerRoom | None:
        """The partner whose room this is; an engagement room belongs to its routing partner."""
        found = [p for p in await self.partners() if room_id in p.rooms]
        if found:
            return found[0]
        engagement = self.engagement_of_room(room_id)
        if engagement is None:
            return None
        async with self.engine.connect() as conn:
            handle = (
                await conn.execute(
                    sa.select(engagements.c.partner).where(engagements.c.id == engagement)
                )
            ).scalar_one_or_none()
        return next((p for p in await self.partners() if p.handle == handle), None)

    async def is_registered(self, room_id: str) -> bool:
        """The RoomRegistry the bot consults before accepting an invite."""
        if self.is_staff_room(room_id):
            return True
        return any(room_id in p.rooms for p in await self.partners())

    async def _holds_power(self, room_id: str, user_id: str) -> bool:
        if self.power is None:
            return False
        return await self.power(room_id, user_id) >= self.config.policy.partner_power_level

    async def may_act_for_partner(self, room_id: str, user_id: str) -> bool:
        """Listed partner members, or members holding the configured power level."""
        partner = await self.partner_of_room(room_id)
        if partner is None:
            return False
        if user_id in partner.members:
            return True
        return await self._holds_power(room_id, user_id)

    async def may_act_as_staff(self, room_id: str, user_id: str) -> bool:
        """Listed staff members in the staff room, nobody else: no power level, and an empty
        list (a configuration error, see ``config.check_staff``) admits no one."""
        return self.is_staff_room(room_id) and user_id in self.config.staff.members
