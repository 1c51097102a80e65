"""The rate limiter on real databases: per client and per limit, IPv6 by /64, one counter
for every process, keys that change daily, and no address in the table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.store import create_engine, migrate
from coordinator.store.schema import rate_limits
from dsx.web.ratelimit import Limit, RateLimiter, Scope, network_of

SECRET = b"k" * 32
LIMITS = {
    Scope.FORMS: Limit(2, 300),
    Scope.FORMS_OVERALL: Limit(3, 300),
    Scope.SIGN_IN: Limit(2, 300),
    Scope.API: Limit(2, 60),
}
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()  # a window boundary


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(db_url)
    eng = create_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


def _limiter(engine: AsyncEngine, clock: Clock, secret: bytes = SECRET) -> RateLimiter:
    return RateLimiter(engine, secret, LIMITS, clock=clock)


async def _rows(engine: AsyncEngine) -> list[sa.Row]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(rate_limits))).all())


async def test_budget_per_client_then_the_next_window(engine):
    clock = Clock()
    limiter = _limiter(engine, clock)
    assert [await limiter.allow(Scope.FORMS, "198.51.100.7") for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert await limiter.allow(Scope.FORMS, "203.0.113.9")  # another client, its own budget
    clock.t += 299
    assert not await limiter.allow(Scope.FORMS, "198.51.100.7")
    clock.t += 1  # the next window
    assert await limiter.allow(Scope.FORMS, "198.51.100.7")


async def test_each_limit_has_its_own_budget(engine):
    limiter = _limiter(engine, Clock())
    for _ in range(5):
        await limiter.allow(Scope.FORMS, "198.51.100.7")
    assert not await limiter.allow(Scope.FORMS, "198.51.100.7")
    assert await limiter.allow(Scope.SIGN_IN, "198.51.100.7")
    assert await limiter.allow(Scope.API, "198.51.100.7")
    # The shared cap is spent only through allow_overall, never by a client's posts.
    assert [await limiter.allow_overall(Scope.FORMS_OVERALL) for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


def test_ipv6_by_64_and_ipv4_mapped_as_ipv4():
    assert network_of("2001:db8:1:2::1") == network_of("2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert network_of("2001:db8:1:2::1") != network_of("2001:db8:1:3::1")
    assert network_of("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert network_of("::ffff:198.51.100.7") == "198.51.100.7"
    assert network_of("fe80::1%eth0") == "fe80::/64"
    assert network_of("198.51.100.7") != network_of("198.51.100.8")


async def test_ipv6_addresses_of_one_64_share_a_budget(engine):
    limiter = _limiter(engine, Clock())
    assert await limiter.allow(Scope.FORMS, "2001:db8:1:2::1")
    assert await limiter.allow(Scope.FORMS, "2001:db8:1:2::2")
    assert not await limiter.allow(Scope.FORMS, "2001:db8:1:2:dead:beef:0:1")
    assert await limiter.allow(Scope.FORMS, "2001:db8:1:3::1")


async def test_one_counter_for_two_processes(engine, db_url):
    """Two limiters on two engines (two processes' pools), hitting at once: the budget
    holds in total, not per process."""
    clock = Clock()
    other_engine = create_engine(db_url)
    try:
        first, second = _limiter(engine, clock), _limiter(other_engine, clock)
        results = await asyncio.gather(
            *((first if i % 2 else second).allow(Scope.API, "198.51.100.7") for i in range(10))
        )
    finally:
        await other_engine.dispose()
    assert sorted(results) == [False] * 8 + [True] * 2


async def test_no_address_stored_keys_change_daily_rows_are_purged(engine):
    clock = Clock()
    limiter = _limiter(engine, clock)
    address = "198.51.100.7"
    before = limiter.client_key(Scope.FORMS, address)
    assert before == limiter.client_key(Scope.FORMS, address)
    assert before != limiter.client_key(Scope.SIGN_IN, address)  # unlinkable across limits
    await limiter.allow(Scope.FORMS, address)
    await limiter.allow(Scope.API, "2001:db8:1:2::1")
    stored = " ".join(str(tuple(r)) for r in await _rows(engine))
    for text in (address, "198.51", "2001:db8", "db8:1:2"):
        assert text not in stored
    assert before in stored
    # Another secret (another deployment) gives other keys for the same address.
    assert _limiter(engine, clock, b"x" * 32).client_key(Scope.FORMS, address) != before
    clock.t += 86_400
    assert limiter.client_key(Scope.FORMS, address) != before
    # The first hit after the windows ended deletes their rows (past PURGE_EVERY_S).
    await limiter.allow(Scope.SIGN_IN, "203.0.113.9")
    rows = await _rows(engine)
    assert len(rows) == 1 and rows[0].scope == Scope.SIGN_IN.value
