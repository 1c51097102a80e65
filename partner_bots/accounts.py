"""Several bot accounts, each possibly on its own homeserver, each serving its own rooms.

Every room is served by exactly one account: the staff room, and partners whose
configuration names no ``account``, by the primary (``[matrix]``); a partner's rooms by the
account it names; an engagement room by the account serving the engagement's routing
partner, which creates it. One account per room means a command is answered once, and an
outbox row is always re-sent from the same device, so its transaction id deduplicates it.

Each account accepts invites only to its own rooms (invited into another account's room,
it declines). One delivery loop serves them all, because the outbox hands out the rows of
every room in one claim: ``RoutedSender`` and ``RoutedEngagementRooms`` pick the room's
account for each row.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import sqlalchemy as sa
from nio import MatrixRoom
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.config import Config
from coordinator.logs import get_logger
from coordinator.store.schema import engagements
from partner_bots.bot import Bot
from partner_bots.rooms import RoomRegistry
from partner_bots.sending import Sent
from partner_bots.session import SessionError

log = get_logger(__name__)

ENGAGEMENT = "engagement:"


class PartnerRooms(Protocol):
    """What routing needs from the workflow's ``Directory``."""

    def is_staff_room(self, room_id: str) -> bool: ...

    async def is_registered(self, room_id: str) -> bool: ...

    async def partner_of_room(self, room_id: str) -> Any: ...  # has ``.handle``, or None


class EngagementRoomsPort(Protocol):
    """``partner_bots.workflow.rooms.EngagementRooms`` of one account."""

    def engagement_of_room(self, room_id: str) -> str | None: ...

    async def resolve(self, room: str) -> str | None: ...

    async def create(self, logical: str, content: dict[str, Any]) -> str: ...


class AccountRouter:
    """Which account serves a room (Matrix room id or the outbox's ``engagement:<id>``)."""

    def __init__(self, config: Config, directory: PartnerRooms, engine: AsyncEngine):
        self.config = config
        self.directory = directory
        self.engine = engine
        self.primary = config.matrix.user_id
        self.bots: dict[str, Bot] = {}
        # Only rooms found to belong somewhere; an unknown room is looked up again.
        self._known: dict[str, str] = {}

    def add(self, user_id: str, bot: Bot) -> None:
        self.bots[user_id] = bot

    @property
    def primary_bot(self) -> Bot:
        return self.bots[self.primary]

    async def account_of(self, room: str) -> str:
        if room in self._known:
            return self._known[room]
        account = await self._lookup(room)
        if account is None:
            return self._joined_by(room) or self.primary
        self._known[room] = account
        return account

    async def _lookup(self, room: str) -> str | None:
        if room.startswith(ENGAGEMENT):
            partner = await self._engagement_partner(room[len(ENGAGEMENT) :])
            return None if partner is None else self.config.account_of_partner(partner)
        if self.directory.is_staff_room(room):
            return self.primary
        partner = await self.directory.partner_of_room(room)  # engagement rooms included
        return None if partner is None else self.config.account_of_partner(partner.handle)

    async def _engagement_partner(self, engagement_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(engagements.c.partner).where(engagements.c.id == engagement_id)
                )
            ).scalar_one_or_none()

    def _joined_by(self, room_id: str) -> str | None:
        for user_id, bot in self.bots.items():
            with contextlib.suppress(SessionError):  # not open yet
                if room_id in bot.session.client.rooms:
                    return user_id
        return None

    async def bot_of(self, room: str) -> Bot:
        account = await self.account_of(room)
        bot = self.bots.get(account)
        if bot is None:  # a partner names an account that has no bot: never guess
            raise LookupError(f"no bot for account {account}")
        return bot

    def registry(self, user_id: str) -> RoomRegistry:
        """The room registry of one account: registered rooms that this account serves."""
        return _AccountRooms(self, user_id)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start every account (the primary first: its failure is the likeliest to matter)."""
        for bot in self.bots.values():
            await bot.start()

    async def synced(self) -> None:
        """Until every account has finished its first sync (rooms and encryption known)."""
        await asyncio.gather(*(bot.sync.synced.wait() for bot in self.bots.values()))

    async def stop(self) -> None:
        """Stop every account that started; one failing to stop must not keep others up."""
        results = await asyncio.gather(
            *(bot.stop() for bot in self.bots.values()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                log.warning("accounts.stop_failed", error=type(result).__name__)


class _AccountRooms:
    def __init__(self, router: AccountRouter, user_id: str):
        self.router = router
        self.user_id = user_id

    async def is_registered(self, room_id: str) -> bool:
        if not await self.router.directory.is_registered(room_id):
            return False
        return await self.router.account_of(room_id) == self.user_id


class RoutedSender:
    """``Sender.send`` through the account that serves the room."""

    def __init__(self, router: AccountRouter):
        self.router = router

    async def room(self, room_id: str) -> MatrixRoom | None:
        """The serving account's view of the room; None if no account serves it."""
        try:
            bot = await self.router.bot_of(room_id)
        except LookupError:
            return None
        return await bot.sender.room(room_id)

    async def send(
        self,
        room_id: str,
        event_type: str,
        content: dict[str, Any],
        tx_id: str | None = None,
        allow_unencrypted: bool = False,
        single_use_session: bool = False,
    ) -> Sent:
        bot = await self.router.bot_of(room_id)
        return await bot.sender.send(
            room_id,
            event_type,
            content,
            tx_id=tx_id,
            allow_unencrypted=allow_unencrypted,
            single_use_session=single_use_session,
        )


class RoutedEngagementRooms:
    """Engagement rooms created, resolved and recognised by the account serving them."""

    def __init__(self, router: AccountRouter, rooms: Mapping[str, EngagementRoomsPort]):
        self.router = router
        self.rooms = dict(rooms)

    async def _of(self, logical: str) -> EngagementRoomsPort:
        return self.rooms[await self.router.account_of(logical)]

    def engagement_of_room(self, room_id: str) -> str | None:
        return _first(r.engagement_of_room(room_id) for r in self.rooms.values())

    async def resolve(self, room: str) -> str | None:
        if room.startswith("!"):
            return room
        if not room.startswith(ENGAGEMENT):
            return None
        return await (await self._of(room)).resolve(room)

    async def create(self, logical: str, content: dict[str, Any]) -> str:
        return await (await self._of(logical)).create(logical, content)


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)
