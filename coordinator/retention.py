"""Retention: when an engagement closes, the organization's personal data goes.

Purged means gone from the database files, not hidden: the sealed rows are deleted
in the closing transaction, then SQLite runs VACUUM with ``secure_delete`` on and
truncates its WAL, and PostgreSQL rewrites the table (VACUUM FULL) so no dead tuple
keeps the bytes. Only counts and types remain. An archive (still sealed, so it needs
the private key to read) is written only where the organization's consent is recorded.

Free-text reasons (``!dsx decline … reason=``, ``!dsx remove … reason=``) may name people,
so they are sealed too, in their own scope. A decline's reason is case data: owned by the
organization, it goes with the case (closed, refused or cancelled). A removal's reason is
the record of why a member left; it stays sealed with the removed member's record.

A public-form submission is sealed on arrival and opened only into the routing partner's
encrypted room. Once delivered there, the room is the record: the sealed copy is kept
``[policy] intake_retention_days`` (default 30) so a partner can ask for a re-send, then
purged. An undelivered submission is never purged: that would lose a request.

Delivered, not stored: a sent outbox row keeps only what exactly-once needs (its id,
room, event id, state, error code; ``Outbox.mark_sent`` deletes the content) and goes
whole after ``outbox_retention_days``; a handled event's id after ``inbox_retention_days``;
a referred request keeps its details ``referral_retention_days`` for the handover, then
only its state, code and date (``sweep_retention`` runs them, with the intake purge).
On close the case's whole trail goes (``purge_case``); only counts and types remain.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.domain.states import EngagementState, RequestState
from coordinator.logs import get_logger
from coordinator.sealing import PublicSealer
from coordinator.store.outbox import OUTBOX_REF, SENT
from coordinator.store.schema import (
    engagements,
    inbox,
    intake_queue,
    outbox,
    proposal_posts,
    proposals,
    request_threads,
    requests,
    retention_counts,
    sealed,
)
from coordinator.store.sealed import INTAKE_DETAILS, INTAKE_SCOPE
from coordinator.store.sealed import store as store_sealed

log = get_logger(__name__)
TERMINAL = (RequestState.CLOSED.value, RequestState.REFERRED.value, RequestState.REFUSED.value)
REASON_SCOPE = "reason"
REMOVAL_FIELD = "removal"
REFERRED_CODE = "referred"


def decline_field(proposal_id: str) -> str:
    return f"decline:{proposal_id}"


async def store_reason(
    conn: AsyncConnection, sealer: PublicSealer, owner: str, field: str, text: str
) -> None:
    """Keep a free-text reason, sealed for its row."""
    await store_sealed(conn, sealer, owner, REASON_SCOPE, field, text)


async def purge_case_reasons(conn: AsyncConnection, request_id: str) -> int:
    """Delete the sealed decline reasons of a request's proposals."""
    ids = (
        await conn.execute(sa.select(proposals.c.id).where(proposals.c.request == request_id))
    ).scalars()
    fields = [decline_field(p) for p in ids]
    if not fields:
        return 0
    return (
        await conn.execute(
            sa.delete(sealed).where(sealed.c.scope == REASON_SCOPE, sealed.c.field.in_(fields))
        )
    ).rowcount


async def _count(conn: AsyncConnection, kind: str) -> None:
    updated = await conn.execute(
        retention_counts.update()
        .where(retention_counts.c.kind == kind)
        .values(count=retention_counts.c.count + 1)
    )
    if updated.rowcount == 0:
        await conn.execute(retention_counts.insert().values(kind=kind, count=1))


async def sealed_rows(
    conn: AsyncConnection, organization: str, request_id: str
) -> Sequence[sa.Row]:
    result = await conn.execute(
        sa.select(sealed.c.id, sealed.c.owner, sealed.c.scope, sealed.c.field, sealed.c.blob).where(
            sealed.c.owner == organization, sealed.c.scope.in_([request_id, "org"])
        )
    )
    return result.all()


async def purge_case(
    conn: AsyncConnection,
    request_id: str,
    organization: str | None,
    skills: list[str],
    *,
    counted: str = "requests_closed",
) -> int:
    """The case's whole trail goes: its sealed data (and the organization's, when it has
    no other open case), its proposals (but the one an engagement stands on, emptied),
    where they were posted, its threads index, and every need it named. The request row
    keeps its id, state and dates, for the engagement and the counts."""
    deleted = await purge_case_reasons(conn, request_id)
    deleted += (await conn.execute(sa.delete(sealed).where(sealed.c.scope == request_id))).rowcount
    if organization is not None:
        others = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    requests.c.organization == organization,
                    requests.c.id != request_id,
                    requests.c.state.not_in(TERMINAL),
                )
            )
        ).scalar_one()
        if others == 0:
            deleted += (
                await conn.execute(
                    sa.delete(sealed).where(sealed.c.owner == organization, sealed.c.scope == "org")
                )
            ).rowcount
    await conn.execute(proposal_posts.delete().where(proposal_posts.c.request == request_id))
    await conn.execute(request_threads.delete().where(request_threads.c.request == request_id))
    engaged = sa.select(engagements.c.proposal).where(engagements.c.request == request_id)
    await conn.execute(
        proposals.delete().where(proposals.c.request == request_id, proposals.c.id.not_in(engaged))
    )
    await conn.execute(
        proposals.update()
        .where(proposals.c.request == request_id)
        .values(path=[], approvals_needed=[], approvals=[], reasons=None)
    )
    await conn.execute(
        requests.update()
        .where(requests.c.id == request_id)
        .values(organization=None, skills=[], languages=[], region=None, room=None)
    )
    await _count(conn, counted)
    for skill in skills:
        await _count(conn, f"skill:{skill}")
    return deleted


def _write_archive(path: Path, rows: Sequence[sa.Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        for row in rows:
            record = {
                "scope": "org" if row.scope == "org" else "case",
                "field": row.field,
                # The row each blob is sealed for: opening it needs this binding back.
                "sealed_for": {"owner": row.owner, "scope": row.scope, "field": row.field},
                "sealed": base64.b64encode(row.blob).decode("ascii"),
            }
            out.write(json.dumps(record) + "\n")


async def write_archive(directory: Path, engagement_id: str, rows: Sequence[sa.Row]) -> Path:
    """Still-sealed copies of the purged values, for an offline archive."""
    path = directory / f"{engagement_id}.sealed.jsonl"
    await asyncio.to_thread(_write_archive, path, rows)
    return path


async def _delivered_references(conn: AsyncConnection, delivered_before: datetime) -> list[str]:
    """Submissions whose details reached their room before ``delivered_before``: dated on
    their queue row when the outbox row was marked sent (a sent row keeps no content);
    rows sent before that date was kept still name their reference."""
    dated = (
        await conn.execute(
            sa.select(intake_queue.c.reference).where(
                intake_queue.c.delivered_at.is_not(None),
                intake_queue.c.delivered_at <= delivered_before,
            )
        )
    ).scalars()
    older = (
        await conn.execute(
            sa.select(outbox.c.content).where(
                outbox.c.kind == INTAKE_DETAILS,
                outbox.c.state == SENT,
                outbox.c.content.is_not(None),
                outbox.c.created_at <= delivered_before,
            )
        )
    ).scalars()
    return sorted({*dated, *(str(c["reference"]) for c in older if isinstance(c, dict))})


async def purge_delivered_intake(conn: AsyncConnection, delivered_before: datetime) -> list[str]:
    """Delete the sealed fields of public-form submissions whose details were delivered
    into their room before ``delivered_before``, and their queue rows (only the count
    stays); returns the references purged."""
    references = await _delivered_references(conn, delivered_before)
    purged: list[str] = []
    for start in range(0, len(references), 500):
        batch = references[start : start + 500]
        found = (
            await conn.execute(
                sa.select(sealed.c.owner)
                .where(sealed.c.scope == INTAKE_SCOPE, sealed.c.owner.in_(batch))
                .distinct()
            )
        ).scalars()
        owners = sorted(found)
        if owners:
            await conn.execute(
                sa.delete(sealed).where(sealed.c.scope == INTAKE_SCOPE, sealed.c.owner.in_(owners))
            )
            purged += owners
        await conn.execute(intake_queue.delete().where(intake_queue.c.reference.in_(batch)))
    for _ in purged:
        await _count(conn, "intake_purged")
    return purged


@dataclass(frozen=True)
class Swept:
    """What a retention sweep deleted (counts only)."""

    outbox: int
    inbox: int
    referred: tuple[str, ...]


async def sweep_outbox(
    conn: AsyncConnection, sent_before: datetime, intake_sent_before: datetime | None = None
) -> int:
    """Delete sent outbox rows older than ``sent_before`` whole. Pending and dead rows
    stay: they are not delivered yet. A row still named by a later one (its thread root
    or the message it edits, by outbox reference) waits until that one is sent. The rows
    of an open engagement's room stay while it is open, and intake-details rows until
    ``intake_sent_before`` (past the submission's own window): their event ids are what
    the close, and the end of that window, redact in the room."""
    referenced = sa.union(
        sa.select(outbox.c.thread_of.label("r")).where(outbox.c.state != SENT),
        sa.select(outbox.c.reply_to.label("r")).where(outbox.c.state != SENT),
        sa.select(outbox.c.edits.label("r")).where(outbox.c.state != SENT),
    ).subquery()
    refs = {
        str(r)[len(OUTBOX_REF) :]
        for r in (await conn.execute(sa.select(referenced.c.r))).scalars()
        if r and str(r).startswith(OUTBOX_REF)
    }
    query = sa.delete(outbox).where(outbox.c.state == SENT, outbox.c.created_at <= sent_before)
    open_rooms = [
        f"engagement:{e}"
        for e in (
            await conn.execute(
                sa.select(engagements.c.id).where(engagements.c.state == EngagementState.OPEN.value)
            )
        ).scalars()
    ]
    if open_rooms:
        query = query.where(outbox.c.room.not_in(open_rooms))
    intake_until = min(sent_before, intake_sent_before or sent_before)
    query = query.where(
        sa.or_(outbox.c.kind != INTAKE_DETAILS, outbox.c.created_at <= intake_until)
    )
    if refs:
        query = query.where(outbox.c.id.not_in(sorted(refs)))
    return (await conn.execute(query)).rowcount


async def sweep_inbox(conn: AsyncConnection, handled_before: datetime) -> int:
    """Forget handled event ids older than ``handled_before``: past the window in which
    the homeserver may deliver an event again, the row has nothing left to prevent."""
    return (
        await conn.execute(sa.delete(inbox).where(inbox.c.handled_at <= handled_before))
    ).rowcount


async def purge_referred(conn: AsyncConnection, referred_before: datetime) -> list[str]:
    """Referred requests past their window keep only the state, the code and the date:
    the organization, both partners, the needs and the sealed note go."""
    found = (
        await conn.execute(
            sa.select(requests.c.id, requests.c.organization, requests.c.skills).where(
                requests.c.state == RequestState.REFERRED.value,
                requests.c.acknowledged_at <= referred_before,
                requests.c.partner.is_not(None),
            )
        )
    ).all()
    for row in found:
        await purge_case(conn, row.id, row.organization, [], counted="requests_referred")
        await conn.execute(
            requests.update()
            .where(requests.c.id == row.id)
            .values(
                partner=None,
                referred_to=None,
                reason_code=REFERRED_CODE,
            )
        )
    return [r.id for r in found]


async def vacuum(engine: AsyncEngine) -> None:
    """Make deleted rows unrecoverable from the files (run outside any transaction)."""
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            # aiosqlite's own connection: SQLAlchemy types it Optional, it is set while open.
            driver: Any = raw.driver_connection
            await driver.execute("VACUUM")
            await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql("VACUUM FULL sealed")
            await auto.exec_driver_sql("VACUUM requests")
    log.info("retention.vacuumed", dialect=engine.dialect.name)
