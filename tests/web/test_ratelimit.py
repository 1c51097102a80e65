"""The rate limiter: per-client and global buckets, keys rotated daily, no address kept."""

from __future__ import annotations

from datetime import date

from coordinator.web.ratelimit import BucketSpec, RateLimiter


class Clocks:
    def __init__(self) -> None:
        self.t = 0.0
        self.day = date(2026, 3, 1)


def _limiter(clocks: Clocks, burst: int = 2, overall: int = 100) -> RateLimiter:
    return RateLimiter(
        BucketSpec(burst, 10.0),
        BucketSpec(overall, 1.0),
        monotonic=lambda: clocks.t,
        today=lambda: clocks.day,
    )


def test_burst_then_refill_per_client():
    clocks = Clocks()
    limiter = _limiter(clocks)
    assert [limiter.allow("198.51.100.7") for _ in range(3)] == [True, True, False]
    assert limiter.allow("203.0.113.9")  # another client has its own bucket
    clocks.t += 10.0
    assert limiter.allow("198.51.100.7")
    assert not limiter.allow("198.51.100.7")


def test_global_bucket_bounds_many_clients():
    clocks = Clocks()
    limiter = _limiter(clocks, burst=5, overall=3)
    results = [limiter.allow(f"192.0.2.{i}") for i in range(5)]
    assert results == [True, True, True, False, False]


def test_keys_rotate_daily_and_hold_no_address():
    clocks = Clocks()
    limiter = _limiter(clocks)
    before = limiter.client_key("198.51.100.7")
    assert before == limiter.client_key("198.51.100.7")
    assert b"198.51.100.7" not in before
    limiter.allow("198.51.100.7")
    limiter.allow("198.51.100.7")
    assert not limiter.allow("198.51.100.7")
    clocks.day = date(2026, 3, 2)
    after = limiter.client_key("198.51.100.7")
    assert after != before
    assert limiter.tracked_clients == 0  # yesterday's buckets are gone
    assert limiter.allow("198.51.100.7")
