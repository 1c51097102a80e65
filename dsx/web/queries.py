"""The dashboard's read model: plain queries on the store tables, typed rows out.

Nothing here writes, and nothing here reads ``sealed`` blobs: staff see ids, states,
times and counts, never an organization's personal data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator import audit
from coordinator.domain import RequestState, Urgency
from coordinator.retention import REASON_SCOPE, REMOVAL_FIELD
from coordinator.store.clock import aware
from coordinator.store.schema import (
    audit_log,
    engagements,
    intake_queue,
    members,
    outbox,
    partners,
    proposals,
    requests,
    retention_counts,
    sealed,
    vouches,
)
from coordinator.store.sealed import INTAKE_DETAILS, INTAKE_SCOPE
from coordinator.usecases import validate

OPEN_STATES = (RequestState.OPEN.value, RequestState.PROPOSED.value, RequestState.UNMATCHED.value)


@dataclass(frozen=True)
class SlaPolicy:
    critical_minutes: int
    high_minutes: int

    def window(self, urgency: Urgency) -> timedelta | None:
        if urgency is Urgency.CRITICAL:
            return timedelta(minutes=self.critical_minutes)
        if urgency is Urgency.HIGH:
            return timedelta(minutes=self.high_minutes)
        return None


@dataclass(frozen=True)
class OpenRequest:
    id: str
    partner: str | None
    region: str | None
    urgency: str
    state: str
    filed_at: datetime
    age_minutes: int
    due_at: datetime | None  # None: no SLA window for this urgency
    minutes_left: int | None  # negative when overdue
    acknowledged: bool
    escalated: bool

    @property
    def overdue(self) -> bool:
        return self.minutes_left is not None and self.minutes_left < 0 and not self.acknowledged

    @property
    def outside_us(self) -> bool:
        """Only these can be referred to the global partner."""
        return not validate.is_us(self.region)


@dataclass(frozen=True)
class PendingProposal:
    id: str
    request: str
    provider: str
    created_at: datetime
    path: tuple[str, ...]
    approvals_needed: tuple[str, ...]
    approvals: tuple[str, ...]

    @property
    def waiting_for(self) -> tuple[str, ...]:
        return tuple(p for p in self.approvals_needed if p not in self.approvals)


@dataclass(frozen=True)
class EngagementRow:
    id: str
    request: str
    provider: str
    partner: str
    state: str
    opened_at: datetime
    closed_at: datetime | None
    archive: bool


@dataclass(frozen=True)
class Applicant:
    id: str
    kind: str
    status: str
    joined_at: datetime
    vouches: int
    references: int


@dataclass(frozen=True)
class MemberRow:
    id: str
    kind: str
    status: str
    joined_at: datetime
    vouched_by: tuple[tuple[str, str], ...]  # (author, kind)
    vouches_for: tuple[tuple[str, str], ...]  # (target, kind)


@dataclass(frozen=True)
class Edge:
    author: str
    target: str
    kind: str


@dataclass(frozen=True)
class Neighbourhood:
    center: str
    nodes: tuple[str, ...]
    distance: dict[str, int]  # undirected hops from the center
    edges: tuple[Edge, ...]
    seeds: frozenset[str]


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AuditStatus:
    entries: int
    intact: bool
    broken_at: int | None
    reason: str | None


@dataclass(frozen=True)
class RetentionItem:
    what: str  # "intake submission" | "case data" | "organization data"
    owner: str
    scope: str
    fields: int
    reason: str


@dataclass(frozen=True)
class CountRow:
    label: str
    count: int


@dataclass(frozen=True)
class WeekRow:
    week: str  # ISO year-week, e.g. 2026-W09
    filed: int
    by_state: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Stats:
    requests_by_state: tuple[CountRow, ...]
    proposals_by_state: tuple[CountRow, ...]
    engagements_by_state: tuple[CountRow, ...]
    members_by_status: tuple[CountRow, ...]
    weeks: tuple[WeekRow, ...]
    retained_counts: tuple[CountRow, ...]


@dataclass(frozen=True)
class IncomingRow:
    """A public-form submission as staff see it: never a field of the form."""

    reference: str
    form: str  # "request" | "provider"
    urgency: str
    routed_to: str | None  # the partner's handle; None: the staff room
    referral: bool
    received_at: datetime
    age_minutes: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


async def open_requests(engine: AsyncEngine, now: datetime, sla: SlaPolicy) -> list[OpenRequest]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(requests)
                .where(requests.c.state.in_(OPEN_STATES))
                .order_by(requests.c.filed_at)
            )
        ).all()
    out = []
    for r in rows:
        urgency = Urgency(r.urgency)
        filed = aware(r.filed_at)
        window = sla.window(urgency)
        due = filed + window if window else None
        out.append(
            OpenRequest(
                id=r.id,
                partner=r.partner,
                region=r.region,
                urgency=urgency.name.lower(),
                state=r.state,
                filed_at=filed,
                age_minutes=_minutes(now - filed),
                due_at=due,
                minutes_left=_minutes(due - now) if due else None,
                acknowledged=r.acknowledged_at is not None,
                escalated=r.escalated_at is not None,
            )
        )
    out.sort(key=lambda o: (not o.overdue, o.minutes_left is None, o.minutes_left or 0))
    return out


async def pending_proposals(engine: AsyncEngine) -> list[PendingProposal]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(proposals)
                .where(proposals.c.state == "pending")
                .order_by(proposals.c.created_at)
            )
        ).all()
    return [
        PendingProposal(
            r.id,
            r.request,
            r.provider,
            aware(r.created_at),
            tuple(r.path),
            tuple(r.approvals_needed),
            tuple(r.approvals),
        )
        for r in rows
    ]


async def engagement_rows(engine: AsyncEngine, limit: int = 200) -> list[EngagementRow]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(engagements).order_by(engagements.c.opened_at.desc()).limit(limit)
            )
        ).all()
    return [
        EngagementRow(
            r.id,
            r.request,
            r.provider,
            r.partner,
            r.state,
            aware(r.opened_at),
            aware(r.closed_at) if r.closed_at else None,
            bool(r.archive),
        )
        for r in rows
    ]


async def applicants(engine: AsyncEngine, limit: int = 100) -> list[Applicant]:
    """Members waiting for a vetting decision, oldest first."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(members)
                .where(members.c.status == "applicant")
                .order_by(members.c.created_at)
                .limit(limit)
            )
        ).all()
        counts = (
            await conn.execute(
                sa.select(vouches.c.target, vouches.c.kind, sa.func.count())
                .where(vouches.c.target.in_([r.id for r in rows]))
                .group_by(vouches.c.target, vouches.c.kind)
            )
        ).all()
    tally = {(t, k): n for t, k, n in counts}
    return [
        Applicant(
            r.id,
            r.kind,
            r.status,
            aware(r.created_at),
            tally.get((r.id, "vouch"), 0),
            tally.get((r.id, "reference"), 0),
        )
        for r in rows
    ]


async def member(engine: AsyncEngine, member_id: str) -> MemberRow | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(members).where(members.c.id == member_id))).first()
        if row is None:
            return None
        by = (
            await conn.execute(
                sa.select(vouches.c.author, vouches.c.kind)
                .where(vouches.c.target == member_id)
                .order_by(vouches.c.author)
            )
        ).all()
        to = (
            await conn.execute(
                sa.select(vouches.c.target, vouches.c.kind)
                .where(vouches.c.author == member_id)
                .order_by(vouches.c.target)
            )
        ).all()
    return MemberRow(
        row.id,
        row.kind,
        row.status,
        aware(row.created_at),
        tuple((a, k) for a, k in by),
        tuple((t, k) for t, k in to),
    )


async def neighbourhood(
    engine: AsyncEngine,
    center: str,
    *,
    hops: int = 2,
    max_nodes: int = 40,
    must_include: tuple[str, ...] = (),
) -> Neighbourhood:
    """Members within ``hops`` vouches of ``center`` (either direction), capped."""
    distance = {center: 0}
    frontier = {center}
    async with engine.connect() as conn:
        for depth in range(1, hops + 1):
            if not frontier or len(distance) >= max_nodes:
                break
            rows = (
                await conn.execute(
                    sa.select(vouches.c.author, vouches.c.target)
                    .where(sa.or_(vouches.c.author.in_(frontier), vouches.c.target.in_(frontier)))
                    .order_by(vouches.c.author, vouches.c.target)
                )
            ).all()
            nxt = set()
            for a, t in rows:
                for m in (a, t):
                    if m not in distance and len(distance) < max_nodes:
                        distance[m] = depth
                        nxt.add(m)
            frontier = nxt
        far = max(distance.values(), default=0) + 1
        for m in must_include:
            distance.setdefault(m, far)
        nodes = tuple(sorted(distance, key=lambda m: (distance[m], m)))
        edges = (
            await conn.execute(
                sa.select(vouches.c.author, vouches.c.target, vouches.c.kind).where(
                    vouches.c.author.in_(nodes), vouches.c.target.in_(nodes)
                )
            )
        ).all()
        seeds = (
            await conn.execute(sa.select(partners.c.handle).where(partners.c.handle.in_(nodes)))
        ).scalars()
        seed_set = frozenset(seeds)
    return Neighbourhood(
        center, nodes, distance, tuple(Edge(a, t, k) for a, t, k in edges), seed_set
    )


async def audit_rows(engine: AsyncEngine, limit: int = 100) -> list[AuditRow]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit))
        ).all()
    return [AuditRow(r.seq, r.at, r.actor, r.action, r.subject, dict(r.data)) for r in rows]


async def audit_status(engine: AsyncEngine, key: audit.AuditKey) -> AuditStatus:
    broken = await audit.verify(engine, key)
    total = await audit.count(engine)
    if broken is None:
        return AuditStatus(total, True, None, None)
    return AuditStatus(total, False, broken.seq, broken.reason)


async def last_vet_decisions(engine: AsyncEngine, ids: list[str]) -> dict[str, AuditRow]:
    """The latest recorded ``trust.vet`` decision per member (what staff last saw)."""
    if not ids:
        return {}
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(audit_log)
                .where(audit_log.c.action == "trust.vet", audit_log.c.subject.in_(ids))
                .order_by(audit_log.c.seq)
            )
        ).all()
    return {
        r.subject: AuditRow(r.seq, r.at, r.actor, r.action, r.subject, dict(r.data)) for r in rows
    }


def _intake_reason(delivery: tuple[str, str | None] | None) -> str:
    """Where the submission's details are: the outbox row's state and its refusal code."""
    state, code = delivery or ("pending", None)
    if state == "sent":
        return "details delivered to the partner room; purged after the retention period"
    if code:
        return f"details not delivered yet: {code}"
    return "awaiting delivery to the partner room"


async def retention_queue(engine: AsyncEngine) -> list[RetentionItem]:
    """Sealed personal data still held, and why it is still here."""
    async with engine.connect() as conn:
        held = (
            await conn.execute(
                sa.select(sealed.c.owner, sealed.c.scope, sa.func.count())
                .group_by(sealed.c.owner, sealed.c.scope)
                .order_by(sealed.c.scope, sealed.c.owner)
            )
        ).all()
        states = dict(
            (
                await conn.execute(
                    sa.select(requests.c.id, requests.c.state).where(
                        requests.c.id.in_([s for _o, s, _n in held])
                    )
                )
            ).all()
        )
        removals = set(
            (
                await conn.execute(
                    sa.select(sealed.c.owner).where(
                        sealed.c.scope == REASON_SCOPE, sealed.c.field == REMOVAL_FIELD
                    )
                )
            ).scalars()
        )
        # A sent row keeps no content: delivered submissions are known by their queue row.
        deliveries = {
            str((r.content or {}).get("reference")): (r.state, r.error_code)
            for r in await conn.execute(
                sa.select(outbox.c.content, outbox.c.state, outbox.c.error_code).where(
                    outbox.c.kind == INTAKE_DETAILS, outbox.c.content.is_not(None)
                )
            )
        }
        for reference in (
            await conn.execute(
                sa.select(intake_queue.c.reference).where(intake_queue.c.delivered_at.is_not(None))
            )
        ).scalars():
            deliveries[reference] = ("sent", None)
    items = []
    for owner, scope, n in held:
        if scope == INTAKE_SCOPE:
            items.append(
                RetentionItem(
                    "intake submission", owner, scope, n, _intake_reason(deliveries.get(owner))
                )
            )
        elif scope == REASON_SCOPE:
            why = (
                "why this member was removed (kept with their record)"
                if owner in removals
                else "a decline reason: goes with the organization's case"
            )
            items.append(RetentionItem("free-text reason", owner, scope, n, why))
        elif scope == "org":
            items.append(
                RetentionItem("organization data", owner, scope, n, "organization has open cases")
            )
        else:
            state = states.get(scope, "unknown")
            terminal = state in ("closed", "referred", "refused")
            reason = f"case {state}: purge due" if terminal else f"case {state}: in use"
            items.append(RetentionItem("case data", owner, scope, n, reason))
    return items


def _count_rows(rows: list[Any]) -> tuple[CountRow, ...]:
    return tuple(CountRow(str(label), int(n)) for label, n in sorted(rows, key=lambda r: str(r[0])))


async def stats(engine: AsyncEngine, weeks: int = 12) -> Stats:
    """Counts by state and by ISO week: no ids, no names, nothing personal."""
    async with engine.connect() as conn:

        async def grouped(column: sa.Column) -> tuple[CountRow, ...]:
            result = await conn.execute(sa.select(column, sa.func.count()).group_by(column))
            return _count_rows(list(result.all()))

        by_request = await grouped(requests.c.state)
        by_proposal = await grouped(proposals.c.state)
        by_engagement = await grouped(engagements.c.state)
        by_member = await grouped(members.c.status)
        filed = (await conn.execute(sa.select(requests.c.filed_at, requests.c.state))).all()
        kept = (
            await conn.execute(sa.select(retention_counts.c.kind, retention_counts.c.count))
        ).all()
    per_week: dict[str, Counter[str]] = {}
    for at, state in filed:
        year, week, _ = aware(at).isocalendar()
        per_week.setdefault(f"{year}-W{week:02d}", Counter())[state] += 1
    rows = tuple(
        WeekRow(w, sum(c.values()), tuple(sorted(c.items())))
        for w, c in sorted(per_week.items(), reverse=True)[:weeks]
    )
    # Unpacked: a Row's ``count`` attribute is also tuple.count to the type checker.
    retained = tuple(CountRow(kind, count) for kind, count in sorted(kept))
    return Stats(by_request, by_proposal, by_engagement, by_member, rows, retained)


async def incoming(engine: AsyncEngine, now: datetime, limit: int = 200) -> list[IncomingRow]:
    """Public-form submissions, the unacknowledged first, oldest first within each."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(intake_queue)
                .order_by(
                    intake_queue.c.acknowledged_at.is_not(None),
                    intake_queue.c.received_at,
                )
                .limit(limit)
            )
        ).all()
    return [
        IncomingRow(
            r.reference,
            r.form,
            r.urgency,
            r.routed_to,
            bool(r.referral),
            aware(r.received_at),
            _minutes(now - aware(r.received_at)),
            aware(r.acknowledged_at) if r.acknowledged_at else None,
            r.acknowledged_by,
        )
        for r in rows
    ]


async def unacknowledged(engine: AsyncEngine, form: str | None = None) -> int:
    """How many submissions (of one form, or all) wait for a staff member: the dashboard
    menu's count, and the vetting page's pointer to provider applications."""
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).where(intake_queue.c.acknowledged_at.is_(None))
        if form is not None:
            query = query.where(intake_queue.c.form == form)
        return int((await conn.execute(query)).scalar_one())
