"""The audit chain verifies, and tampering is reported at the first broken link."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from coordinator import audit
from coordinator.store.schema import audit_log


async def _fill(engine, n: int) -> None:
    for i in range(n):
        async with engine.begin() as conn:
            await audit.append(
                conn,
                [audit.AuditRecord("@staff:hs", "test.act", f"subject-{i}", {"n": i})],
                datetime.now(UTC),
            )


async def test_chain_intact_then_tampered(engine):
    await _fill(engine, 6)
    assert await audit.verify(engine) is None
    async with engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.seq == 4).values(subject="forged"))
    broken = await audit.verify(engine)
    assert broken == audit.BrokenLink(4, "hash_mismatch")


async def test_deleted_entry_is_a_gap(engine):
    await _fill(engine, 5)
    async with engine.begin() as conn:
        await conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 2))
    assert await audit.verify(engine) == audit.BrokenLink(2, "gap")


async def test_recomputed_hash_breaks_next_link(engine):
    await _fill(engine, 4)
    async with engine.begin() as conn:
        row = (await conn.execute(sa.select(audit_log).where(audit_log.c.seq == 2))).one()
        forged = audit.entry_hash(
            2, row.at, row.actor, "forged", row.subject, row.data, row.prev_hash
        )
        await conn.execute(
            audit_log.update().where(audit_log.c.seq == 2).values(action="forged", hash=forged)
        )
    assert await audit.verify(engine) == audit.BrokenLink(3, "prev_mismatch")


def test_rejects_free_text():
    with pytest.raises(ValueError):
        audit._check_value("note", "x" * 500)
    with pytest.raises(TypeError):
        audit._check_value("score", 0.5)
