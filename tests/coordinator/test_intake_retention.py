"""Public-form submissions: purged ``intake_retention_days`` after their details reached
the routing partner's room, never before delivery; gone from the database file."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator import audit
from coordinator.sealing import Binding
from coordinator.store.outbox import enqueue
from coordinator.store.schema import audit_log, outbox, retention_counts, sealed
from coordinator.store.sealed import INTAKE_DETAILS, INTAKE_ROOM, INTAKE_SCOPE
from tests.harness.rawdb import sqlite_bytes

SECRET = "Refugee Legal Network, call +1 202 555 0175 on Signal"


async def _submit(c, reference: str, *, delivered: bool) -> None:
    async with c.engine.begin() as conn:
        await conn.execute(
            sealed.insert(),
            [
                {
                    "owner": reference,
                    "scope": INTAKE_SCOPE,
                    "field": f,
                    "blob": c.ctx.sealer.seal(v, Binding(reference, INTAKE_SCOPE, f)),
                }
                for f, v in (("organization", SECRET), ("contact", "+1 202 555 0175"))
            ],
        )
        row = await enqueue(
            conn,
            room=INTAKE_ROOM + "!alpha:hs",
            kind=INTAKE_DETAILS,
            content={"reference": reference, "form": "request"},
            now=c.ctx.clock(),
        )
        if delivered:
            await conn.execute(
                outbox.update().where(outbox.c.id == row).values(state="sent", event_id="$x")
            )


async def _held(c) -> set[str]:
    async with c.engine.connect() as conn:
        found = await conn.execute(
            sa.select(sealed.c.owner).where(sealed.c.scope == INTAKE_SCOPE).distinct()
        )
        return set(found.scalars())


async def test_delivered_submissions_are_purged_after_their_retention_only(coord, clock):
    c = coord
    await _submit(c, "c-delivered", delivered=True)
    await _submit(c, "c-waiting", delivered=False)  # no key yet, say: must never be lost

    assert (await c.purge_delivered_intake()).references == ()  # within 30 days
    clock.advance(days=29)
    assert (await c.purge_delivered_intake()).references == ()
    assert await _held(c) == {"c-delivered", "c-waiting"}

    clock.advance(days=2)
    purged = await c.purge_delivered_intake()
    assert purged.references == ("c-delivered",)
    assert await _held(c) == {"c-waiting"}
    assert (await c.purge_delivered_intake()).references == ()  # once

    async with c.engine.connect() as conn:
        actions = (
            await conn.execute(
                sa.select(audit_log.c.action, audit_log.c.subject).where(
                    audit_log.c.action == "intake.purged"
                )
            )
        ).all()
        counted = (
            await conn.execute(
                sa.select(retention_counts.c.count).where(
                    retention_counts.c.kind == "intake_purged"
                )
            )
        ).scalar_one()
    assert actions == [("intake.purged", "c-delivered")] and counted == 1
    assert await audit.verify(c.engine, c.audit_key) is None


async def test_a_purged_submission_is_gone_from_the_sqlite_file(coord, clock, db_url):
    c = coord
    await _submit(c, "c-1", delivered=True)
    async with c.engine.connect() as conn:
        blobs = (await conn.execute(sa.select(sealed.c.blob))).scalars().all()
    clock.advance(days=31)
    assert (await c.purge_delivered_intake()).references == ("c-1",)
    if not db_url.startswith("sqlite"):
        return  # PostgreSQL: VACUUM FULL rewrites the table (covered by the purge tests)
    raw = sqlite_bytes(db_url)
    assert blobs and not any(blob in raw for blob in blobs)
