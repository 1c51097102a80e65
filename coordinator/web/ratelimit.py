"""Rate limit for the public forms that never stores an IP address.

Why this design: a limit per client needs *some* key per client, and the address is
the only one a scripted flood cannot shed (a cookie it can simply drop). So the key is
``HMAC(day_key, address)``, where ``day_key`` is random, lives only in this process's
memory, and is replaced (with every bucket) at the start of each UTC day. Nothing
reaches disk or logs; after the rotation, yesterday's keys cannot be linked to an
address even by someone who dumps the process memory. A global bucket on top bounds
what a flood from many addresses can do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

MAX_CLIENTS = 50_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True)
class BucketSpec:
    burst: int
    refill_seconds: float  # one token comes back every this many seconds


def _take(bucket: _Bucket, spec: BucketSpec, now: float) -> bool:
    bucket.tokens = min(spec.burst, bucket.tokens + (now - bucket.stamp) / spec.refill_seconds)
    bucket.stamp = now
    if bucket.tokens >= 1:
        bucket.tokens -= 1
        return True
    return False


class RateLimiter:
    def __init__(
        self,
        per_client: BucketSpec,
        overall: BucketSpec,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ):
        self._client_spec = per_client
        self._global_spec = overall
        self._monotonic = monotonic
        self._today = today
        self._day = today()
        self._key = secrets.token_bytes(32)
        self._clients: dict[bytes, _Bucket] = {}
        self._global = _Bucket(overall.burst, monotonic())

    def _rotate_if_new_day(self) -> None:
        day = self._today()
        if day != self._day:
            self._day, self._key = day, secrets.token_bytes(32)
            self._clients.clear()

    def client_key(self, address: str) -> bytes:
        self._rotate_if_new_day()
        return hmac.new(self._key, address.encode(), hashlib.sha256).digest()

    def allow(self, address: str) -> bool:
        """Take one token from the client's bucket and one from the global bucket."""
        key = self.client_key(address)
        now = self._monotonic()
        bucket = self._clients.get(key)
        if bucket is None:
            if len(self._clients) >= MAX_CLIENTS:
                self._clients.clear()  # memory bound; a flood only resets itself
            bucket = self._clients[key] = _Bucket(self._client_spec.burst, now)
        if not _take(bucket, self._client_spec, now):
            return False
        return _take(self._global, self._global_spec, now)

    @property
    def tracked_clients(self) -> int:
        return len(self._clients)
