"""Fixtures for the coordinator core: a migrated database on SQLite and PostgreSQL, and a
coordinator over it with two partners, a global partner, a staff room and a sealing key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.config import Config, PartnerConfig, PolicyConfig, StaffConfig
from coordinator.sealing import PublicSealer, generate_keypair
from coordinator.store import create_engine, migrate
from coordinator.usecases import Coordinator, matching
from coordinator.usecases.results import RouteResult


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(db_url)
    eng = create_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_config(tmp_path) -> Config:
    return Config(
        data_dir=str(tmp_path),
        staff=StaffConfig(room="!staff:hs", members=("@staff:hs",)),
        partners=(
            PartnerConfig("alpha", rooms=("!alpha:hs",), members=("@ann:hs",)),
            PartnerConfig("beta", rooms=("!beta:hs",), members=("@bob:hs",)),
            PartnerConfig("globe", rooms=("!globe:hs",), members=("@gil:hs",), is_global=True),
        ),
        policy=PolicyConfig(sla_minutes_critical=60, sla_minutes_high=120),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def opened(db_url: str, tmp_path, clock: Clock) -> Coordinator:
    """The coordinator of these tests, with a sealing key and the fake clock."""
    keys = generate_keypair()
    c = await Coordinator.open(
        make_config(tmp_path),
        url=db_url,
        sealer=PublicSealer(keys.public),
        clock=clock,
    )
    c.test_keys = keys  # type: ignore[attr-defined]
    return c


@pytest.fixture
async def coord(db_url: str, tmp_path, clock: Clock) -> AsyncIterator[Coordinator]:
    c = await opened(db_url, tmp_path, clock)
    try:
        yield c
    finally:
        await c.aclose()


async def network(c: Coordinator) -> None:
    """alpha vouches for p1 and org o1; beta vouches for p2; both providers speak en."""
    await c.add_provider("@p1:hs", ["forensics", "training"], ["en"], ["US-CA"], capacity=1)
    await c.add_provider("@p2:hs", ["forensics"], ["en", "es"], ["US-NY"], capacity=2)
    await c.vouch("alpha", "@p1:hs")
    await c.vouch("beta", "@p2:hs")
    await c.add_organization(
        "o1", "alpha", region="US-CA", name="Canary Legal Aid", contact="canary@example.org"
    )
    await c.vouch("alpha", "o1")
    for member in ("@p1:hs", "@p2:hs", "o1"):
        await c.vet(member)


async def route(c: Coordinator, request_id: str, *, event_id: str | None = None) -> RouteResult:
    """Route one request again, as the core does after a decline or a removal
    (``matching.route``): adapters only ever file (``file_request`` routes) and answer."""
    return await c.transaction(
        "route",
        lambda tx: matching.route(c.ctx, tx, request_id),
        RouteResult,
        "system",
        event_id,
    )
