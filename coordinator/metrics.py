"""What an operator can watch: Prometheus metrics made of aggregates only.

No label ever holds an id, a room, a user or a name: use cases are labelled by their
name, requests by state and urgency, bot accounts by their position in the
configuration (``0`` is ``[matrix]``). Gauges that describe the database are read at
scrape time (``refresh``), so every process reports the same, shared truth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.store.clock import aware, utcnow
from coordinator.store.schema import outbox, requests

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

USE_CASE_SECONDS = Histogram(
    "dsx_use_case_seconds",
    "Time of one use case, transaction and commit included.",
    ["use_case"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
    registry=REGISTRY,
)
OUTBOX_WAITING = Gauge(
    "dsx_outbox_waiting", "Messages not yet delivered (excluding dead ones).", registry=REGISTRY
)
OUTBOX_OLDEST = Gauge(
    "dsx_outbox_oldest_waiting_seconds",
    "Age of the oldest message still waiting for delivery (0 when none).",
    registry=REGISTRY,
)
OUTBOX_DEAD = Gauge(
    "dsx_outbox_dead", "Messages given up on; see `dsx outbox list --dead`.", registry=REGISTRY
)
REQUESTS = Gauge(
    "dsx_requests", "Requests by state and urgency.", ["state", "urgency"], registry=REGISTRY
)
SYNC_AGE = Gauge(
    "dsx_sync_seconds_since_success",
    "Seconds since the bot account's last successful sync.",
    ["account"],
    registry=REGISTRY,
)


async def refresh(
    engine: AsyncEngine,
    sync_ages: Mapping[str, float] | None = None,
    now: Callable[[], datetime] = utcnow,
) -> None:
    """Read the database-backed gauges; ``sync_ages`` maps account position to age."""
    async with engine.connect() as conn:
        figures = await outbox_figures(conn)
        counts = list(
            await conn.execute(
                sa.select(requests.c.state, requests.c.urgency, sa.func.count()).group_by(
                    requests.c.state, requests.c.urgency
                )
            )
        )
    OUTBOX_WAITING.set(figures.waiting)
    OUTBOX_OLDEST.set(figures.oldest_age(now()))
    OUTBOX_DEAD.set(figures.dead)
    REQUESTS.clear()
    for state, urgency, count in counts:
        REQUESTS.labels(state=str(state), urgency=str(urgency)).set(count)
    SYNC_AGE.clear()
    for account, age in (sync_ages or {}).items():
        SYNC_AGE.labels(account=account).set(round(age, 3))


@dataclass(frozen=True)
class OutboxFigures:
    """What readiness and the gauges both read of the outbox: counts and one timestamp."""

    waiting: int
    oldest_waiting: datetime | None
    dead: int

    def oldest_age(self, now: datetime) -> float:
        """Seconds the oldest waiting message has waited (0 when none waits)."""
        if self.oldest_waiting is None:
            return 0.0
        return max(0.0, (now - self.oldest_waiting).total_seconds())


async def outbox_figures(conn: AsyncConnection) -> OutboxFigures:
    waiting, oldest = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(
                outbox.c.state == "pending"
            )
        )
    ).one()
    dead = (
        await conn.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.state == "dead")
        )
    ).scalar_one()
    return OutboxFigures(waiting, aware(oldest) if oldest is not None else None, dead)


def render() -> bytes:
    return generate_latest(REGISTRY)
