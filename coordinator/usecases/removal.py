"""Removing a member: cancel their proposals, re-route their open engagements, and
name the members whose support ran only through them (they need new vouches).

Removing an organization also ends its cases: open requests are cancelled (their pending
proposals withdrawn, only the reason code and date kept, as for a refusal), an open
engagement is closed, and the organization's personal data is purged. The partner that
works with it is told which cases ended; staff get the cascade with counts.

The free-text reason staff give is sealed (``retention.REASON_SCOPE``); the audit log,
the staff notice and the use-case result carry only the reason code. Without a sealing
key the removal still happens (it is a safety action) and the text is not stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from coordinator import notifications as n
from coordinator import retention
from coordinator.domain import (
    DomainError,
    EngagementState,
    MemberKind,
    MembershipStatus,
    ProposalState,
    RequestState,
    advance,
)
from coordinator.store.schema import engagements, proposals, requests, sealed, vouches
from coordinator.usecases import cases, forgetting, matching, proposal_notices, rows, validate
from coordinator.usecases.context import Context
from coordinator.usecases.results import RemovalResult
from coordinator.usecases.unit import Tx

ORG_REMOVED = "organization_removed"


async def remove_member(
    ctx: Context,
    tx: Tx,
    member_id: str,
    reason_code: str,
    code_of_conduct: bool = True,
    reason: str | None = None,
) -> RemovalResult:
    reason_code = validate.reason_code("reason", reason_code)
    reason = validate.text("reason", reason)
    found = await rows.member(tx.conn, member_id, lock=True)
    status = advance(found.status, MembershipStatus.REMOVED)
    await rows.set_member_status(tx.conn, member_id, status)
    await tx.conn.execute(
        vouches.delete().where(sa.or_(vouches.c.author == member_id, vouches.c.target == member_id))
    )
    seeds = ctx.trust.seeds
    impact = ctx.trust.graph.remove_member(member_id, seeds, code_of_conduct=code_of_conduct)
    if found.kind is MemberKind.PARTNER:
        ctx.trust.seeds = tuple(s for s in seeds if s != member_id)
    tx.trust_changed = True
    ctx.trust.changed()

    cancelled: list[str] = []
    to_reroute: list[str] = []
    held = await tx.conn.execute(
        sa.select(proposals.c.id, proposals.c.request).where(
            proposals.c.provider == member_id,
            proposals.c.state.in_([ProposalState.PENDING.value, ProposalState.APPROVED.value]),
        )
    )
    for proposal_id, request_id in held.all():
        cancelled.append(proposal_id)
        to_reroute.append(request_id)
    if cancelled:
        await tx.conn.execute(
            proposals.update()
            .where(proposals.c.id.in_(cancelled))
            .values(state=ProposalState.CANCELLED.value, decided_at=tx.now)
        )
    open_engagements = (
        await tx.conn.execute(
            sa.select(engagements.c.id, engagements.c.request).where(
                engagements.c.provider == member_id,
                engagements.c.state == EngagementState.OPEN.value,
            )
        )
    ).all()
    for engagement_id, request_id in open_engagements:
        await tx.conn.execute(
            engagements.update()
            .where(engagements.c.id == engagement_id)
            .values(state=EngagementState.REROUTED.value, closed_at=tx.now)
        )
        # The removed provider leaves the room; the partner keeps it (docs/security.md).
        await forgetting.remove_from_room(tx, engagement_id, member_id)
        to_reroute.append(request_id)

    rerouted = []
    for request_id in sorted(set(to_reroute)):
        req = await rows.request(tx.conn, request_id, lock=True)
        if req.state in (RequestState.PROPOSED, RequestState.ENGAGED):
            req = await matching.set_request_state(tx, req, RequestState.OPEN)
            await matching.propose(ctx, tx, req)
            rerouted.append(request_id)

    ended = CasesEnded()
    if found.kind is MemberKind.ORGANIZATION:
        ended = await end_cases(ctx, tx, member_id)
        cancelled += ended.withdrawn
    # A removal is a safety action: without a sealing key it still happens, unrecorded text.
    sealed_reason = bool(reason) and ctx.sealer is not None
    if sealed_reason and reason:
        await retention.store_reason(
            tx.conn, ctx.require_sealer(), member_id, retention.REMOVAL_FIELD, reason
        )

    orphaned = tuple(sorted(impact.orphaned))
    for proposal_id in cancelled:  # every posted copy shows it is cancelled
        await proposal_notices.changed(tx, proposal_id)
    await tx.notify(
        n.StaffRoom(ctx.staff_room),
        n.MemberRemoved(
            member=member_id,
            code=reason_code,
            reason_given=bool(reason),
            reason_sealed=sealed_reason,
            organization=found.kind is MemberKind.ORGANIZATION,
            needs_revouching=orphaned,
            rerouted=tuple(rerouted),
            cancelled_requests=len(ended.cancelled),
            withdrawn_proposals=len(cancelled),
            closed_engagements=len(ended.closed),
        ),
    )
    tx.audit(
        "member.removed",
        member_id,
        code=reason_code,
        cancelled=cancelled,
        rerouted=rerouted,
        orphaned=len(orphaned),
        cancelled_requests=list(ended.cancelled),
        closed_engagements=list(ended.closed),
        reason_sealed=sealed_reason,
    )
    return RemovalResult(
        member_id,
        tuple(cancelled),
        tuple(rerouted),
        orphaned,
        tuple(ended.cancelled),
        tuple(ended.closed),
        ended.purged,
    )


@dataclass
class CasesEnded:
    """What removing an organization did to its cases."""

    cancelled: list[str] = field(default_factory=list)  # requests
    withdrawn: list[str] = field(default_factory=list)  # pending proposals of those requests
    closed: list[str] = field(default_factory=list)  # engagements
    purged: int = 0  # sealed rows deleted


async def end_cases(ctx: Context, tx: Tx, org_id: str) -> CasesEnded:
    """Cancel a removed organization's open requests, close its engagements, purge its data."""
    ended = CasesEnded()
    found = await tx.conn.execute(
        sa.select(requests.c.id, requests.c.partner, requests.c.state, requests.c.room)
        .where(
            requests.c.organization == org_id,
            requests.c.state.in_([s.value for s in (*cases.OPEN_STATES, RequestState.ENGAGED)]),
        )
        .order_by(requests.c.filed_at)
    )
    # Each partner is told in the room its requests were filed in.
    by_partner: dict[tuple[str, str | None], list[str]] = {}
    for request_id, partner, state, room in found.all():
        if partner:
            by_partner.setdefault((partner, room), []).append(request_id)
        if state == RequestState.ENGAGED.value:
            ended.closed += await _close_engagements(ctx, tx, request_id)
            ended.purged += await _close_request(tx, request_id, org_id)
            continue
        ended.withdrawn += await _cancel_request(tx, request_id, RequestState(state))
        ended.purged += await _purge_request(tx, request_id)
        ended.cancelled.append(request_id)
    ended.purged += (
        await tx.conn.execute(
            sealed.delete().where(sealed.c.owner == org_id, sealed.c.scope == "org")
        )
    ).rowcount
    for (partner, room), ids in by_partner.items():
        if not ids:
            continue
        try:
            address = (
                n.PartnerRoom(partner, room) if room else await cases.partner_room(tx, partner)
            )
        except DomainError:  # a removed partner, or one without a room: nobody to tell
            continue
        await tx.notify(address, n.OrganizationRemoved(org_id, tuple(ids)))
    return ended


async def _cancel_request(tx: Tx, request_id: str, state: RequestState) -> list[str]:
    """Out of routing for good, like a refusal: the code and date remain (and the partner
    and skills, for counts); the organization, languages and region go."""
    advance(state, RequestState.REFUSED)
    withdrawn = await cases.cancel_pending_proposals(tx, request_id)
    await tx.conn.execute(
        requests.update()
        .where(requests.c.id == request_id)
        .values(
            state=RequestState.REFUSED.value,
            reason_code=ORG_REMOVED,
            organization=None,
            languages=[],
            region=None,
            closed_at=tx.now,
        )
    )
    tx.audit("request.cancelled", request_id, code=ORG_REMOVED, withdrawn=withdrawn)
    return withdrawn


async def _purge_request(tx: Tx, request_id: str) -> int:
    notes = await tx.conn.execute(sealed.delete().where(sealed.c.scope == request_id))
    return notes.rowcount + await retention.purge_case_reasons(tx.conn, request_id)


async def _close_engagements(ctx: Context, tx: Tx, request_id: str) -> list[str]:
    open_ = (
        await tx.conn.execute(
            sa.select(engagements.c.id, engagements.c.provider).where(
                engagements.c.request == request_id,
                engagements.c.state == EngagementState.OPEN.value,
            )
        )
    ).all()
    closed = []
    for engagement_id, provider in open_:
        await tx.conn.execute(
            engagements.update()
            .where(engagements.c.id == engagement_id)
            .values(state=EngagementState.CLOSED.value, closed_at=tx.now)
        )
        notice = await tx.notify(
            n.EngagementRoom(engagement_id),
            n.EngagementClosed(engagement_id, n.CloseCause.ORGANIZATION_REMOVED),
        )
        await forgetting.close_room(tx, engagement_id, provider, notice)
        tx.audit("engagement.closed", engagement_id, request=request_id, cause=ORG_REMOVED)
        closed.append(engagement_id)
    return closed


async def _close_request(tx: Tx, request_id: str, org_id: str) -> int:
    req = await rows.request(tx.conn, request_id, lock=True)
    advance(req.state, RequestState.CLOSED)
    await tx.conn.execute(
        requests.update()
        .where(requests.c.id == request_id)
        .values(state=RequestState.CLOSED.value, closed_at=tx.now, reason_code=ORG_REMOVED)
    )
    return await retention.purge_case(tx.conn, request_id, org_id, sorted(req.skills))
