"""Fixtures for the Matrix session layer: bot accounts on the shared real homeservers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from partner_bots.session import BotAccount, BotSession

PICKLE_KEY = "test-pickle-key-0123456789"
BOT_DEVICE = "DSXBOT"

BotFactory = Callable[..., Awaitable[BotSession]]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def new_account(hs, store: Path, name: str = "bot") -> BotAccount:
    user = await hs.register(unique(name))
    return BotAccount(
        homeserver_url=hs.base_url,
        user_id=user.user_id,
        device_id=BOT_DEVICE,
        store_path=store,
        pickle_key=PICKLE_KEY,
        password=user.password,
    )


@pytest.fixture
async def bot_factory(tmp_path: Path) -> AsyncIterator[BotFactory]:
    """Opens bot sessions (fresh accounts unless one is given); closes them all afterwards."""
    opened: list[BotSession] = []

    async def make(hs, account: BotAccount | None = None, name: str = "bot") -> BotSession:
        account = account or await new_account(hs, tmp_path / unique("store"), name)
        session = BotSession(account)
        await session.open()
        opened.append(session)
        return session

    yield make
    for session in opened:
        await session.close()


# -- running bots and partner clients ------------------------------------------------

import asyncio  # noqa: E402
from typing import Any  # noqa: E402

from partner_bots.bot import Bot  # noqa: E402
from partner_bots.device_trust import DevicePolicy  # noqa: E402
from partner_bots.events import Incoming  # noqa: E402
from partner_bots.homeserver.user_client import UserClient  # noqa: E402


class MemoryRegistry:
    """In-memory stand-in for the coordinator's registered partner rooms."""

    def __init__(self) -> None:
        self.rooms: set[str] = set()

    async def is_registered(self, room_id: str) -> bool:
        return room_id in self.rooms


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[Incoming] = []
        self.changed = asyncio.Event()

    async def __call__(self, event: Incoming) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, condition, timeout: float = 30.0, what: str = "event") -> None:
        async def loop() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise TimeoutError(f"bot did not see {what}; saw {len(self.events)} events") from None


class Partner(UserClient):
    """A plain nio partner client that keeps every timeline event it decrypts."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.events: list[tuple[str, Any]] = []

    def _record(self, room_id: str, event: Any) -> None:
        super()._record(room_id, event)
        self.events.append((room_id, event))

    def sources(self, room_id: str, sender: str | None = None) -> list[dict]:
        return [
            e.source
            for r, e in self.events
            if r == room_id and (sender is None or getattr(e, "sender", None) == sender)
        ]


@pytest.fixture
async def running_bots(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Bot]]]:
    """Starts Bots (session + cross-signing + sync in the background); stops them after."""
    started: list[Bot] = []

    async def start(
        hs,
        registry: MemoryRegistry,
        sink: RecordingSink,
        account: BotAccount | None = None,
        **kw: Any,
    ) -> Bot:
        account = account or await new_account(hs, tmp_path / unique("store"))
        kw.setdefault("long_poll_ms", 2_000)
        # These tests are about transport; their partners do not cross-sign, so they get
        # room keys under tofu. The policies themselves: test_device_trust.py.
        kw.setdefault("device_policy", DevicePolicy.TOFU)
        bot = Bot(account, registry, sink, **kw)
        await bot.start()
        started.append(bot)
        await asyncio.wait_for(bot.sync.synced.wait(), 30)
        return bot

    yield start
    for bot in started:
        await bot.stop()


@pytest.fixture
async def partners(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Partner]]]:
    made: list[Partner] = []

    async def make(hs, name: str = "partner") -> Partner:
        p = await Partner.create(hs, tmp_path / "partners", name)
        made.append(p)
        return p

    yield make
    for p in made:
        await p.close()


async def wait_joined(partner: Partner, room_id: str, user_id: str, timeout: float = 60) -> None:
    """Until ``user_id`` has *joined* (nio also lists invited users in ``room.users``)."""

    def joined() -> bool:
        room = partner.client.rooms.get(room_id)
        return room is not None and user_id in room.users and user_id not in room.invited_users

    await partner.sync_until(joined, timeout, f"{user_id} to join")


async def bot_room(partner: Partner, bot: Bot, registry: MemoryRegistry) -> str:
    """A registered encrypted room that ``partner`` created and ``bot`` joined."""
    room = await partner.create_encrypted_room(invite=[])
    registry.rooms.add(room)
    await partner.client.room_invite(room, bot.session.user_id)
    await wait_joined(partner, room, bot.session.user_id)
    return room


@pytest.fixture(scope="module")
async def limited_homeserver(tmp_path_factory: pytest.TempPathFactory):
    """A Synapse of our own with a low message rate limit (and one we may restart)."""
    from tests.conftest import _require_synapse

    _require_synapse()
    from partner_bots.homeserver.synapse import Homeserver

    server = Homeserver(
        tmp_path_factory.mktemp("synapse-limited"),
        rate_limits={"rc_message": {"per_second": 0.5, "burst_count": 2}},
    )
    await server.start()
    yield server
    await server.stop()
