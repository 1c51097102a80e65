"""Routing a request to a provider, and the approvals that turn a proposal into work.

A proposal needs the asking partner's approval, and also that of the partner through
whose web of trust the provider came in when that is another partner; the other
partner's message carries the needs and the provider, never the organization.
"""

from __future__ import annotations

import sqlalchemy as sa

from coordinator import retention, routing
from coordinator.domain import (
    DomainError,
    EngagementState,
    MembershipStatus,
    ProposalState,
    RequestState,
    advance,
)
from coordinator.domain.model import Proposal, Request
from coordinator.store.outbox import ref
from coordinator.store.schema import engagements, members, proposals, providers, requests
from coordinator.usecases import messages, ownership, rows, validate
from coordinator.usecases.acting import Acting
from coordinator.usecases.cases import partner_room, request_room
from coordinator.usecases.context import Context
from coordinator.usecases.results import (
    ApprovalResult,
    DeclineResult,
    EngagementResult,
    RouteResult,
    Withdrawn,
)
from coordinator.usecases.unit import Tx

MATCHABLE = (MembershipStatus.ACTIVE.value, MembershipStatus.POD.value)


def request_profile(req: Request) -> routing.RequestProfile:
    return routing.RequestProfile(
        id=req.id,
        organization=req.organization or "",
        skills=req.skills,
        languages=req.languages,
        region=req.region,
        urgency=routing.Urgency(int(req.urgency)),
        filed_at=req.filed_at,
        asking_partner=req.partner or "",
    )


async def profiles_for(
    ctx: Context, tx: Tx, req: Request
) -> tuple[list[routing.ProviderProfile], dict[str, routing.TrustView]]:
    result = await tx.conn.execute(
        sa.select(providers, members.c.status)
        .join(members, members.c.id == providers.c.id)
        .where(members.c.status.in_(MATCHABLE))
        .order_by(providers.c.id)
    )
    loads = await rows.provider_loads(tx.conn)
    accepted = ctx.trust.accepted()
    asking = req.partner or ""
    from_asking = ctx.trust.paths_from([asking])
    from_others = ctx.trust.paths_from([s for s in ctx.trust.seeds if s != asking])
    profiles, views = [], {}
    for row in result:
        p = rows.provider_from_row(row)
        profiles.append(
            routing.ProviderProfile(
                id=p.id,
                skills=p.skills,
                languages=p.languages,
                regions=p.regions,
                capacity=p.capacity,
                load=loads.get(p.id, 0),
                tier=routing.Tier(p.tier.value),
                probation=p.status is MembershipStatus.POD,
                organizations=p.organizations,
            )
        )
        path = from_asking.get(p.id)
        via = asking if path else None
        if path is None and (other := from_others.get(p.id)):
            path, via = other, other[0]
        views[p.id] = routing.TrustView(
            accepted=p.id in accepted,
            path_from_partner=tuple(path) if path else None,
            via_partner=via,
        )
    return profiles, views


async def _already_tried(tx: Tx, request_id: str) -> frozenset[str]:
    tried = await tx.conn.execute(
        sa.select(proposals.c.provider).where(proposals.c.request == request_id)
    )
    return frozenset(tried.scalars())


async def has_room(tx: Tx, provider_id: str) -> bool:
    """Re-check capacity under the provider's row lock (another process may have won)."""
    locked = sa.select(providers.c.capacity).where(providers.c.id == provider_id)
    if tx.conn.dialect.name == "postgresql":
        locked = locked.with_for_update()
    capacity = (await tx.conn.execute(locked)).scalar_one()
    pending = (
        await tx.conn.execute(
            sa.select(sa.func.count()).where(
                proposals.c.provider == provider_id,
                proposals.c.state == ProposalState.PENDING.value,
            )
        )
    ).scalar_one()
    engaged = (
        await tx.conn.execute(
            sa.select(sa.func.count()).where(
                engagements.c.provider == provider_id,
                engagements.c.state == EngagementState.OPEN.value,
            )
        )
    ).scalar_one()
    return pending + engaged < capacity


async def set_request_state(tx: Tx, req: Request, state: RequestState, **extra) -> Request:
    if req.state is not state:
        advance(req.state, state)
    await tx.conn.execute(
        requests.update().where(requests.c.id == req.id).values(state=state.value, **extra)
    )
    return Request(**{**req.__dict__, "state": state})


async def propose(ctx: Context, tx: Tx, req: Request) -> RouteResult:
    """Propose the best remaining candidate for a request that is open or unmatched."""
    if not validate.is_us(req.region):
        raise DomainError(
            "outside_mandate", f"Request {req.id} is outside the U.S.; refer it instead."
        )
    profiles, views = await profiles_for(ctx, tx, req)
    exclude = await _already_tried(tx, req.id)
    for candidate in routing.rank(request_profile(req), profiles, views, exclude):
        if await has_room(tx, candidate.provider):
            return await create_proposal(ctx, tx, req, candidate, views[candidate.provider])
    return await mark_unmatched(ctx, tx, req)


async def create_proposal(
    ctx: Context, tx: Tx, req: Request, candidate: routing.Candidate, view: routing.TrustView
) -> RouteResult:
    asking = req.partner or ""
    needed = [asking]
    if view.via_partner and view.via_partner != asking:
        needed.append(view.via_partner)
    path = list(candidate.path or view.path_from_partner or ())
    proposal_id = rows.new_id("p")
    await tx.conn.execute(
        proposals.insert().values(
            id=proposal_id,
            request=req.id,
            provider=candidate.provider,
            state=ProposalState.PENDING.value,
            score=float(candidate.score.total),
            path=path,
            approvals_needed=needed,
            approvals=[],
            created_at=tx.now,
            reasons=list(candidate.reasons),
        )
    )
    await set_request_state(tx, req, RequestState.PROPOSED)
    provider = await rows.provider(tx.conn, candidate.provider)
    await tx.send(
        await request_room(tx, req),
        messages.proposal_for_asking_partner(
            proposal_id=proposal_id,
            request_id=req.id,
            organization=req.organization or "",
            provider=candidate.provider,
            path=path,
            approvals_needed=needed,
            reasons=list(candidate.reasons),
            probation=provider.status is MembershipStatus.POD,
        ),
    )
    for other in needed[1:]:
        await tx.send(
            await partner_room(tx, other),
            messages.proposal_for_other_partner(
                proposal_id=proposal_id,
                request_id=req.id,
                provider=candidate.provider,
                path=path,
                skills=sorted(req.skills),
                urgency=req.urgency.name.lower(),
                approvals_needed=needed,
            ),
        )
    tx.audit(
        "proposal.created",
        proposal_id,
        request=req.id,
        provider=candidate.provider,
        score=int(candidate.score.total),
        approvals_needed=needed,
    )
    return RouteResult(
        req.id,
        RequestState.PROPOSED.value,
        proposal_id,
        candidate.provider,
        True,
        tuple(path),
        tuple(needed),
    )


async def mark_unmatched(ctx: Context, tx: Tx, req: Request) -> RouteResult:
    if req.state is not RequestState.UNMATCHED:
        await set_request_state(tx, req, RequestState.UNMATCHED)
        await tx.send(
            ctx.staff_room,
            messages.staff(
                f"Request {req.id} has no candidate left "
                f"(skills: {', '.join(sorted(req.skills))}; urgency {req.urgency.name.lower()}).",
                kind="unmatched",
                request=req.id,
            ),
        )
        if req.partner:
            await tx.send(
                await request_room(tx, req),
                messages.notice(
                    f"No provider is available for request {req.id} right now; staff were told."
                ),
            )
        tx.audit("request.unmatched", req.id)
    return RouteResult(req.id, RequestState.UNMATCHED.value, None, None, False)


async def route(ctx: Context, tx: Tx, request_id: str) -> RouteResult:
    req = await rows.request(tx.conn, request_id, lock=True)
    if req.state is RequestState.PROPOSED:
        pending = (
            await tx.conn.execute(
                sa.select(proposals).where(
                    proposals.c.request == request_id,
                    proposals.c.state == ProposalState.PENDING.value,
                )
            )
        ).first()
        if pending is not None:
            return RouteResult(
                req.id,
                req.state.value,
                pending.id,
                pending.provider,
                False,
                tuple(pending.path),
                tuple(pending.approvals_needed),
            )
    if req.state not in (RequestState.OPEN, RequestState.UNMATCHED):
        advance(req.state, RequestState.PROPOSED)  # raises the typed error
    return await propose(ctx, tx, req)


async def approve(ctx: Context, tx: Tx, by: Acting, proposal_id: str) -> ApprovalResult:
    """``by``'s partner approves: only a partner whose approval the proposal needs."""
    prop, partner = await ownership.proposal(tx.conn, by, proposal_id, lock=True)
    if prop.state is not ProposalState.PENDING:
        advance(prop.state, ProposalState.APPROVED)  # raises: decided already
    approvals = tuple(sorted({*prop.approvals, partner}))
    waiting = tuple(p for p in prop.approvals_needed if p not in approvals)
    state = ProposalState.APPROVED if not waiting else ProposalState.PENDING
    await tx.conn.execute(
        proposals.update()
        .where(proposals.c.id == proposal_id)
        .values(
            approvals=list(approvals),
            state=state.value,
            decided_at=tx.now if state is ProposalState.APPROVED else None,
        )
    )
    await tx.conn.execute(
        requests.update()
        .where(requests.c.id == prop.request, requests.c.acknowledged_at.is_(None))
        .values(acknowledged_at=tx.now)
    )
    tx.audit("proposal.approved", proposal_id, partner=partner, complete=not waiting)
    engagement = None
    if not waiting:
        approved = Proposal(**{**prop.__dict__, "state": state, "approvals": approvals})
        engagement = (await open_engagement_for(ctx, tx, approved)).engagement
    return ApprovalResult(proposal_id, state.value, approvals, waiting, engagement)


async def open_engagement_for(ctx: Context, tx: Tx, prop: Proposal) -> EngagementResult:
    """The only way an engagement is created: from a fully approved proposal."""
    if prop.state is not ProposalState.APPROVED or set(prop.approvals_needed) - set(prop.approvals):
        raise DomainError(
            "approvals_missing", f"Proposal {prop.id} is not approved by every partner."
        )
    exists = (
        await tx.conn.execute(sa.select(engagements.c.id).where(engagements.c.proposal == prop.id))
    ).scalar_one_or_none()
    if exists:
        raise DomainError("engagement_exists", f"Engagement {exists} is already open.")
    req = await rows.request(tx.conn, prop.request, lock=True)
    await set_request_state(tx, req, RequestState.ENGAGED)
    engagement_id = rows.new_id("e")
    asking = req.partner or ""
    await tx.conn.execute(
        engagements.insert().values(
            id=engagement_id,
            request=req.id,
            proposal=prop.id,
            provider=prop.provider,
            partner=asking,
            state=EngagementState.OPEN.value,
            opened_at=tx.now,
            archive=False,
        )
    )
    room = f"engagement:{engagement_id}"
    partner = await rows.partner(tx.conn, asking)
    created = await tx.send(
        room,
        {
            "name": f"DSX engagement {engagement_id}",
            "invite": [prop.provider, *partner.members],
            "encrypted": True,
            **messages.engagement_block(engagement_id, req.id, prop.provider, room),
        },
        kind="create_room",
    )
    # What people read names the Matrix room, known once it exists: the creation row's
    # reference, which delivery resolves (and waits for) like a thread root.
    block = messages.engagement_block(engagement_id, req.id, prop.provider, ref(created))
    await tx.send(
        room,
        messages.notice(
            f"Welcome. This room is for request {req.id} of {req.organization}: skills "
            f"{', '.join(sorted(req.skills))}. Close it with `!dsx close {engagement_id}`.",
            mentions=[prop.provider],
            blocks={
                **block,
                **messages.naming(req.organization or ""),
                **messages.case_details(req.organization or "", req.id),
            },
        ),
    )
    await tx.send(
        await request_room(tx, req),
        messages.notice(
            f"Engagement {engagement_id} opened for request {req.id} with {prop.provider}.",
            blocks=block,
        ),
    )
    tx.audit("engagement.opened", engagement_id, request=req.id, provider=prop.provider)
    return EngagementResult(engagement_id, req.id, prop.provider, room)


async def open_engagement(ctx: Context, tx: Tx, proposal_id: str) -> EngagementResult:
    return await open_engagement_for(ctx, tx, await rows.proposal(tx.conn, proposal_id, lock=True))


async def decline(
    ctx: Context,
    tx: Tx,
    caller: Acting,
    proposal_id: str,
    reason_code: str = "declined",
    reason: str | None = None,
) -> DeclineResult:
    """A partner whose approval it needs, or the provider, declines; the next candidate
    is proposed. A free-text ``reason`` is kept sealed with the case (it may name
    people) and purged with it."""
    reason_code = validate.reason_code("reason", reason_code)
    reason = validate.text("reason", reason)
    prop, by = await ownership.proposal(tx.conn, caller, proposal_id, lock=True, provider_may=True)
    advance(prop.state, ProposalState.DECLINED)
    await tx.conn.execute(
        proposals.update()
        .where(proposals.c.id == proposal_id)
        .values(state=ProposalState.DECLINED.value, decided_at=tx.now)
    )
    req = await rows.request(tx.conn, prop.request, lock=True)
    # Without a sealing key the text is not stored; the decline itself must not be blocked.
    sealed_reason = bool(reason and req.organization) and ctx.sealer is not None
    if sealed_reason and reason and req.organization:
        await retention.store_reason(
            tx.conn,
            ctx.require_sealer(),
            req.organization,
            retention.decline_field(proposal_id),
            reason,
        )
    tx.audit("proposal.declined", proposal_id, by=by, code=reason_code, reason_sealed=sealed_reason)
    req = await set_request_state(tx, req, RequestState.OPEN)
    routed = await propose(ctx, tx, req)
    return DeclineResult(proposal_id, routed.proposal, routed.provider, routed.state)


async def withdraw_approval(ctx: Context, tx: Tx, by: Acting, proposal_id: str) -> Withdrawn:
    """``by``'s partner takes its approval back (it redacted its ✅) while the match is
    not final: once every partner approved, the engagement exists and nothing changes."""
    prop, partner = await ownership.proposal(tx.conn, by, proposal_id, lock=True)
    if prop.state is not ProposalState.PENDING:
        raise DomainError(
            "match_final",
            f"Proposal {proposal_id} is {prop.state.value}; the approval can no longer be "
            "withdrawn.",
        )
    if partner not in prop.approvals:
        raise DomainError("no_approval", f"{partner} has not approved {proposal_id}.")
    approvals = tuple(a for a in prop.approvals if a != partner)
    await tx.conn.execute(
        proposals.update().where(proposals.c.id == proposal_id).values(approvals=list(approvals))
    )
    tx.audit("proposal.approval_withdrawn", proposal_id, partner=partner)
    waiting = tuple(p for p in prop.approvals_needed if p not in approvals)
    return Withdrawn(proposal_id, approvals, waiting)
