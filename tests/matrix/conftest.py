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
