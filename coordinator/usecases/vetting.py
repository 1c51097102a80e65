"""The vetting queue as staff see it: applicants waiting for a trust decision.

Staff hear of every change to the queue in the staff room, in the transaction that made
it: a new applicant, a vouch or reference given to or withdrawn from one, an applicant
accepted. Each notice says where the applicant stands now (the trust rules' decision and
the vouching paths, by handle), so nobody has to run ``!dsx vet`` at 2 a.m. to find out;
``!dsx queue`` lists the whole queue. Only handles, kinds, states, counts and paths: an
organization's name and contact stay sealed and are never read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

import trust_graph as tg
from coordinator import notifications as n
from coordinator.domain import MembershipStatus
from coordinator.store.clock import aware
from coordinator.store.schema import members, vouches
from coordinator.usecases.context import Context
from coordinator.usecases.unit import Tx

LIST_LIMIT = 20  # applicants listed by `!dsx queue`; the dashboard lists them all


@dataclass(frozen=True)
class QueueEntry:
    member: str
    kind: str  # provider | organization
    waiting_since: datetime
    vouches: int
    references: int
    eligible: bool  # the trust rules would accept them: `!dsx vet` moves them on
    reasons: tuple[str, ...]  # the decision, in sentences
    paths: tuple[tuple[str, ...], ...]  # vouching paths from the partners (handles)


@dataclass(frozen=True)
class VettingQueue:
    entries: tuple[QueueEntry, ...]  # oldest first, at most ``LIST_LIMIT``
    total: int


def _paths(decision: tg.Decision) -> tuple[tuple[str, ...], ...]:
    if decision.disjoint_paths:
        return tuple(tuple(p) for p in decision.disjoint_paths)
    return (tuple(decision.shortest_path),) if decision.shortest_path else ()


def assess(ctx: Context, member_id: str) -> tg.Decision:
    """The trust rules' decision on the in-memory graph (this transaction's view)."""
    return ctx.trust.graph.vet(member_id, ctx.trust.policy, ctx.trust.seeds)


async def _tally(conn: AsyncConnection, ids: Iterable[str]) -> dict[tuple[str, str], int]:
    ids = list(ids)
    if not ids:
        return {}
    found = await conn.execute(
        sa.select(vouches.c.target, vouches.c.kind, sa.func.count())
        .where(vouches.c.target.in_(ids))
        .group_by(vouches.c.target, vouches.c.kind)
    )
    return {(target, kind): n for target, kind, n in found}


def format_paths(paths: Iterable[Iterable[str]]) -> str:
    shown = [" → ".join(p) for p in paths]
    return "; ".join(s for s in shown if s) or "none yet"


def decision_text(entry: QueueEntry) -> str:
    if entry.eligible:
        return f"meets the trust rules; confirm with `!dsx vet {entry.member}`."
    return "not accepted yet: " + (" ".join(entry.reasons) or "no vouch or reference yet.")


def _entry(ctx: Context, row: sa.Row, tally: dict[tuple[str, str], int]) -> QueueEntry:
    decision = assess(ctx, row.id)
    return QueueEntry(
        member=row.id,
        kind=row.kind,
        waiting_since=aware(row.created_at),
        vouches=tally.get((row.id, "vouch"), 0),
        references=tally.get((row.id, "reference"), 0),
        eligible=decision.eligible,
        reasons=tuple(r.message for r in decision.reasons),
        paths=_paths(decision),
    )


async def entry(ctx: Context, conn: AsyncConnection, member_id: str) -> QueueEntry:
    row = (await conn.execute(sa.select(members).where(members.c.id == member_id))).one()
    return _entry(ctx, row, await _tally(conn, [member_id]))


async def notify(ctx: Context, tx: Tx, member_id: str, change: str, *, new: bool = False) -> None:
    """Post where an applicant now stands, after ``change`` (a short phrase). A ``new``
    member has no vouches yet: no need to ask the trust graph (a flow computation)."""
    if not ctx.config.staff.room:
        return  # no staff room configured: nobody to tell
    if new:
        row = (await tx.conn.execute(sa.select(members).where(members.c.id == member_id))).one()
        found = QueueEntry(member_id, row.kind, aware(row.created_at), 0, 0, False, (), ())
    else:
        found = await entry(ctx, tx.conn, member_id)
    await tx.notify(
        n.StaffRoom(ctx.staff_room),
        n.VettingChanged(
            change=change,
            member=found.member,
            member_kind=found.kind,
            status=MembershipStatus.APPLICANT.value,
            eligible=found.eligible,
            paths=tuple(tuple(p) for p in found.paths),
            decision=decision_text(found),
            vouches=found.vouches,
            references=found.references,
        ),
    )


async def notify_left(ctx: Context, tx: Tx, decision: tg.Decision, kind: str, status: str) -> None:
    """An applicant was accepted (pod or active) by ``decision``: they leave the queue."""
    if not ctx.config.staff.room:
        return
    member_id = decision.member
    paths = _paths(decision)
    await tx.notify(
        n.StaffRoom(ctx.staff_room),
        n.VettingChanged(
            change="accepted",
            member=member_id,
            member_kind=kind,
            status=status,
            eligible=True,
            paths=tuple(tuple(p) for p in paths),
        ),
    )


async def queue(ctx: Context, conn: AsyncConnection, limit: int = LIST_LIMIT) -> VettingQueue:
    """Applicants, oldest first, each with the trust rules' current decision."""
    waiting = members.c.status == MembershipStatus.APPLICANT.value
    total = (await conn.execute(sa.select(sa.func.count()).where(waiting))).scalar_one()
    found = (
        await conn.execute(
            sa.select(members).where(waiting).order_by(members.c.created_at).limit(limit)
        )
    ).all()
    tally = await _tally(conn, [r.id for r in found])
    return VettingQueue(tuple(_entry(ctx, row, tally) for row in found), total)
