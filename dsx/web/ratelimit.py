"""Rate limits for sign-in, the public forms and the API, shared by every process.

Why this design:

- **One counter for all processes.** Several ``dsx run`` processes may serve one
  PostgreSQL database; a limit kept in one process's memory would multiply by their
  number. Each hit is one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``)
  on ``rate_limits``: one row per limit, client and fixed window (SQLite, single process,
  uses the same table).
- **Per client, and separate per limit.** Sign-in, the public forms and the API each have
  their own budget, so a flood of one cannot lock out the other. A post counts against its
  own client only; the one shared cap (all stored form submissions together, against a
  flood from many addresses) is spent only by a submission that is valid and stored, so
  an invalid post never takes from anyone else's budget.
- **No address stored.** The client column is ``HMAC(day key, limit | network)``; the day
  key is derived from the deployment's rate-limit secret (never in the database) and the
  UTC date. A row is deleted once its window is over, so the table holds minutes of keyed
  hashes at most, and a database dump without the configuration links none of them to an
  address. IPv6 clients are keyed by their /64 (one household or host gets a /64, so
  keying by /128 would hand each client 2**64 budgets).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.store.schema import rate_limits

OVERALL = "*"  # the client column of a limit shared by everyone
PURGE_EVERY_S = 60


class Scope(StrEnum):
    SIGN_IN = "sign-in"
    FORMS = "forms"  # per client, every post (valid or not)
    FORMS_OVERALL = "forms-overall"  # everyone together, stored submissions only
    API = "api"


@dataclass(frozen=True)
class Limit:
    hits: int  # allowed per window
    window_seconds: int


DEFAULT_LIMITS: Mapping[Scope, Limit] = MappingProxyType(
    {
        Scope.SIGN_IN: Limit(10, 300),
        Scope.FORMS: Limit(5, 300),
        Scope.FORMS_OVERALL: Limit(150, 300),
        Scope.API: Limit(600, 60),
    }
)


def network_of(address: str) -> str:
    """What one client is: an IPv4 address, an IPv6 /64, or the raw text if not an IP."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class RateLimiter:
    def __init__(
        self,
        engine: AsyncEngine,
        secret: bytes,
        limits: Mapping[Scope, Limit] = DEFAULT_LIMITS,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self._engine = engine
        self._secret = secret
        self._limits = {**DEFAULT_LIMITS, **limits}
        self._clock = clock
        self._purged_at = 0.0
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    def limit(self, scope: Scope) -> Limit:
        return self._limits[scope]

    def client_key(self, scope: Scope, address: str) -> str:
        """A keyed hash of the client's network for this limit, changing every UTC day."""
        day = datetime.fromtimestamp(self._clock(), UTC).date().isoformat()
        day_key = hmac.new(self._secret, f"dsx rate limit {day}".encode(), hashlib.sha256)
        message = f"{scope.value}\0{network_of(address)}".encode()
        return hmac.new(day_key.digest(), message, hashlib.sha256).hexdigest()[:32]

    async def allow(self, scope: Scope, address: str) -> bool:
        """Count one hit for this client; False once its budget for the window is spent."""
        return await self._hit(scope, self.client_key(scope, address))

    async def allow_overall(self, scope: Scope) -> bool:
        """Count one hit against a limit shared by everyone."""
        return await self._hit(scope, OVERALL)

    async def _hit(self, scope: Scope, client: str) -> bool:
        limit = self._limits[scope]
        now = self._clock()
        start = int(now // limit.window_seconds) * limit.window_seconds
        table = rate_limits
        upsert = (
            self._insert(table)
            .values(
                scope=scope.value,
                client=client,
                window_start=start,
                expires_at=start + limit.window_seconds,
                hits=1,
            )
            .on_conflict_do_update(
                index_elements=[table.c.scope, table.c.client, table.c.window_start],
                set_={"hits": table.c.hits + 1},
            )
            .returning(table.c.hits)
        )
        async with self._engine.begin() as conn:
            hits = (await conn.execute(upsert)).scalar_one()
            if now - self._purged_at >= PURGE_EVERY_S:
                self._purged_at = now
                await conn.execute(sa.delete(table).where(table.c.expires_at <= int(now)))
        return int(hits) <= limit.hits
