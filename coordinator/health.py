"""Is the service alive, and is it ready to do its job? For probes and for people.

Liveness is the process answering at all. Readiness is what a partner needs: the
database answers, every bot account is syncing, and the outbox is moving (nothing dead,
nothing waiting longer than ``stuck_after``). Each role of ``dsx run`` answers for its
own job: the web role (forms, dashboard) for the database only, since it only queues
and a stuck outbox must not take the forms away; the bot role for all three. The answer
names checks, never an id, a room or a user, so it can be shown to a load balancer or
a monitoring system.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator import metrics
from coordinator.store.clock import utcnow
from coordinator.store.errors import database_unreachable

DB_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class SyncState:
    """One bot account's sync loop as readiness sees it."""

    syncs: int  # completed rounds since start
    failures: int  # consecutive failed rounds (0 once one succeeds)
    seconds_since_success: float | None


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]
    role: str = "all"  # which role of `dsx run` answers (coordinator.config.ROLES)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "role": self.role,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


async def database_check(engine: AsyncEngine) -> Check:
    """The database answers within ``DB_TIMEOUT_S`` (also what a web process without a
    probe reports)."""
    try:
        async with asyncio.timeout(DB_TIMEOUT_S):
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        if database_unreachable(exc) or isinstance(exc, TimeoutError):
            return Check("database", False, "unreachable")
        raise
    return Check("database", True, "answers")


class Probe:
    """Readiness and metrics for one process; ``sync_states`` is read at each call and
    maps an account's position in the configuration (``"0"`` is ``[matrix]``) to its
    loop's state. The web role's probe (``role="web"``) checks the database alone."""

    def __init__(
        self,
        engine: AsyncEngine,
        sync_states: Callable[[], Mapping[str, SyncState]],
        *,
        stuck_after_s: float = 300.0,
        stale_after_s: float = 120.0,
        now: Callable[[], datetime] = utcnow,
        role: str = "all",
    ):
        self.engine = engine
        self.role = role
        self.sync_states = sync_states
        self.stuck_after_s = stuck_after_s
        self.stale_after_s = stale_after_s
        self.now = now

    async def readiness(self) -> Readiness:
        checks = [await database_check(self.engine)]
        if self.role != "web":
            if checks[0].ok:
                checks.append(await self._outbox())
            states = sorted(self.sync_states().items())
            checks += [self._sync(name, state) for name, state in states]
        return Readiness(tuple(checks), self.role)

    async def metrics(self) -> bytes:
        ages = {
            name: s.seconds_since_success
            for name, s in self.sync_states().items()
            if s.seconds_since_success is not None
        }
        try:
            await asyncio.wait_for(metrics.refresh(self.engine, ages, self.now), DB_TIMEOUT_S)
        except Exception as exc:  # the process-local metrics still go out
            if not (database_unreachable(exc) or isinstance(exc, TimeoutError)):
                raise
        return metrics.render()

    async def _outbox(self) -> Check:
        async with self.engine.connect() as conn:
            figures = await metrics.outbox_figures(conn)
        if figures.dead:
            return Check(
                "outbox", False, f"{figures.dead} message(s) given up on: dsx outbox list --dead"
            )
        age = figures.oldest_age(self.now())
        if age > self.stuck_after_s:
            return Check("outbox", False, f"oldest message waiting {int(age)} s")
        return Check("outbox", True, "moving")

    def _sync(self, name: str, state: SyncState) -> Check:
        label = f"sync account {name}"
        if state.syncs == 0:
            return Check(label, False, "no sync completed yet")
        if state.failures:
            return Check(label, False, f"{state.failures} failed sync(s) in a row")
        age = state.seconds_since_success
        if age is not None and age > self.stale_after_s:
            return Check(label, False, f"last successful sync {int(age)} s ago")
        return Check(label, True, "syncing")
