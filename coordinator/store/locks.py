"""Cross-process locks. PostgreSQL: transaction-scoped advisory locks. SQLite: every
write transaction already holds the single write lock (BEGIN IMMEDIATE), so nothing
more is needed there."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

AUDIT_LOCK = 0x445358_02
OUTBOX_CLAIM_LOCK = 0x445358_03


async def advisory_xact_lock(conn: AsyncConnection, key: int) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
