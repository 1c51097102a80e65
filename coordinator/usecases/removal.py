"""Removing a member: cancel their proposals, re-route their open engagements, and
name the members whose support ran only through them (they need new vouches)."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.domain import (
    EngagementState,
    MemberKind,
    MembershipStatus,
    ProposalState,
    RequestState,
    advance,
)
from coordinator.store.schema import engagements, proposals, vouches
from coordinator.usecases import matching, messages, rows, validate
from coordinator.usecases.context import Context
from coordinator.usecases.results import RemovalResult
from coordinator.usecases.unit import Tx


async def remove_member(
    ctx: Context, tx: Tx, member_id: str, reason_code: str, code_of_conduct: bool = True
) -> RemovalResult:
    reason_code = validate.reason_code("reason", reason_code)
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
        to_reroute.append(request_id)

    rerouted = []
    for request_id in sorted(set(to_reroute)):
        req = await rows.request(tx.conn, request_id, lock=True)
        if req.state in (RequestState.PROPOSED, RequestState.ENGAGED):
            req = await matching.set_request_state(tx, req, RequestState.OPEN)
            await matching.propose(ctx, tx, req)
            rerouted.append(request_id)

    orphaned = tuple(sorted(impact.orphaned))
    text = f"Member {member_id} was removed ({reason_code})."
    if orphaned:
        text += " These members need new vouches: " + ", ".join(orphaned)
    await tx.send(
        ctx.staff_room,
        messages.staff(
            text,
            kind="removal",
            member=member_id,
            needs_revouching=list(orphaned),
            rerouted=rerouted,
        ),
    )
    tx.audit(
        "member.removed",
        member_id,
        code=reason_code,
        cancelled=cancelled,
        rerouted=rerouted,
        orphaned=len(orphaned),
    )
    return RemovalResult(member_id, tuple(cancelled), tuple(rerouted), orphaned)
