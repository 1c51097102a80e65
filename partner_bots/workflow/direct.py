"""Each staff member's direct room with the bot, where their sign-in links go.

A link posted in the shared staff room could be read by every member of that room, so
``!dsx login`` answers there only that a link was sent, and the link goes into a direct,
encrypted room between the bot and that staff member (created on demand, ``is_direct``).
The room is remembered per staff member in ``staff_direct_rooms`` and reused; once the
member has left it (or the bot is no longer in it) a new one is created.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import sqlalchemy as sa
from nio import RoomCreateResponse, RoomPreset
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.logs import get_logger
from coordinator.store.schema import staff_direct_rooms
from partner_bots.sending import SendError
from partner_bots.session import BotSession
from partner_bots.workflow.rooms import ENCRYPTION, HISTORY_FROM_INVITE, members_known

log = get_logger(__name__)


class DirectRooms:
    """The primary account's direct rooms with staff members (it serves the staff room)."""

    def __init__(self, session: BotSession, engine: AsyncEngine):
        self.session = session
        self.engine = engine

    async def room_for(self, staff: str) -> str:
        """The staff member's direct room: the remembered one if both are still in it."""
        remembered = await self._remembered(staff)
        if remembered is not None:
            if remembered not in self.session.client.rooms and await self._bot_joined(remembered):
                # Created or joined, not synced yet (a retry, a restart): never a second room.
                await members_known(self.session, remembered, [])
            if self._usable(remembered, staff):
                return remembered
            await self._abandon(remembered)
        room_id = await self._create(staff)
        await self._remember(staff, room_id)
        await members_known(self.session, room_id, [staff])
        return room_id

    def _usable(self, room_id: str, staff: str) -> bool:
        room = self.session.client.rooms.get(room_id)
        # ``users`` holds joined and invited members; someone who left is no longer in it.
        return room is not None and room.encrypted and staff in room.users

    async def _bot_joined(self, room_id: str) -> bool:
        """Whether the server says the bot is in the room (nio may not have synced it yet)."""
        own = quote(self.session.user_id, safe="")
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/state/m.room.member/{own}"
        resp = await self.session.raw.request("GET", path)
        return resp.ok and resp.body.get("membership") == "join"

    async def _abandon(self, room_id: str) -> None:
        """Leave a direct room the staff member left: nobody else should ever join it."""
        if room_id in self.session.client.rooms:
            await self.session.client.room_leave(room_id)
            log.info("direct_room.left")

    async def _remembered(self, staff: str) -> str | None:
        query = sa.select(staff_direct_rooms.c.room_id).where(staff_direct_rooms.c.staff == staff)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def _remember(self, staff: str, room_id: str) -> None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                staff_direct_rooms.delete().where(staff_direct_rooms.c.staff == staff)
            )
            await conn.execute(
                staff_direct_rooms.insert().values(staff=staff, room_id=room_id, created_at=now)
            )

    async def _create(self, staff: str) -> str:
        resp = await self.session.client.room_create(
            name="DSX sign-in",
            preset=RoomPreset.trusted_private_chat,
            is_direct=True,
            invite=[staff],
            initial_state=[ENCRYPTION, HISTORY_FROM_INVITE],
        )
        if not isinstance(resp, RoomCreateResponse):
            code = str(getattr(resp, "status_code", None) or "room_create_failed")
            log.warning("direct_room.create_failed", code=code)
            raise SendError(code, 5.0)
        log.info("direct_room.created")
        return resp.room_id
