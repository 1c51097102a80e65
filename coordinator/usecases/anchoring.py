"""Anchor the audit chain outside the database: its head, posted to the staff room.

An anchor (entry count and the newest entry's hash) in the staff room's history is a
copy the database's owner cannot reach. `dsx audit verify --anchor HASH:COUNT` then
proves the chain still holds that entry, so a deleted tail or a chain rebuilt without
the key shows (docs/security.md, "Audit log"). The notice carries only the count and
the hash: no names, not even who asked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator import audit
from coordinator import notifications as n
from coordinator.store.locks import AUDIT_LOCK, advisory_xact_lock
from coordinator.store.schema import audit_log
from coordinator.usecases.context import Context
from coordinator.usecases.results import AnchorResult
from coordinator.usecases.unit import Tx

ANCHORED = "audit.anchored"


def notice(anchor: audit.Anchor) -> n.AuditAnchor:
    """The staff-room notice: count and hash (rendered with the command that checks them)."""
    return n.AuditAnchor(anchor.count, anchor.hash)


async def post(ctx: Context, tx: Tx) -> AnchorResult:
    """Post the current head (this transaction's own entry comes after it)."""
    await advisory_xact_lock(tx.conn, AUDIT_LOCK)  # the head cannot move until we commit
    head = await audit.head(tx.conn)
    posted = bool(ctx.config.staff.room)  # the "staff" fallback room reaches nobody
    if posted:
        await tx.notify(n.StaffRoom(ctx.staff_room), notice(head))
    tx.audit(ANCHORED, "audit", count=head.count, hash=head.hash, posted=posted)
    return AnchorResult(posted, head.count, head.hash)


async def is_due(conn: AsyncConnection, now: datetime, period: timedelta) -> bool:
    """Due ``period`` after the last anchor (or the first entry), if anything was written
    since: a restart does not post again, and a quiet chain is not anchored twice."""
    last = (
        await conn.execute(
            sa.select(audit_log.c.seq, audit_log.c.at)
            .where(audit_log.c.action == ANCHORED)
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        )
    ).first()
    if last is None:
        last = (
            await conn.execute(
                sa.select(audit_log.c.seq, audit_log.c.at).order_by(audit_log.c.seq).limit(1)
            )
        ).first()
        if last is None:
            return False
    elif (await audit.head(conn)).count <= last.seq:
        return False
    at = datetime.fromisoformat(last.at)
    return now - (at if at.tzinfo else at.replace(tzinfo=UTC)) >= period


async def post_if_due(ctx: Context, tx: Tx, period: timedelta) -> AnchorResult:
    if not ctx.config.staff.room:
        return AnchorResult(False, 0, audit.GENESIS)
    # Two processes checking at once: the second sees the first one's anchor.
    await advisory_xact_lock(tx.conn, AUDIT_LOCK)
    if await is_due(tx.conn, tx.now, period):
        return await post(ctx, tx)
    return AnchorResult(False, 0, audit.GENESIS)
