"""Request intake and the ways a case leaves routing: referral, refusal, SLA escalation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa

from coordinator import retention
from coordinator.domain import (
    DomainError,
    MembershipStatus,
    ProposalState,
    RequestState,
    Urgency,
    advance,
)
from coordinator.domain.model import Request
from coordinator.store.outbox import partner_address
from coordinator.store.schema import proposals, requests
from coordinator.store.sealed import store as store_sealed
from coordinator.usecases import messages, ownership, rows, validate
from coordinator.usecases.acting import Acting
from coordinator.usecases.context import Context
from coordinator.usecases.results import CaseOutcome, RequestResult, SlaResult
from coordinator.usecases.unit import Tx

OPEN_STATES = (RequestState.OPEN, RequestState.PROPOSED, RequestState.UNMATCHED)


def global_partner(ctx: Context) -> str | None:
    if ctx.config.policy.global_partner:
        return ctx.config.policy.global_partner
    for partner in ctx.config.partners:
        if partner.is_global:
            return partner.handle
    return None


async def partner_room(tx: Tx, handle: str) -> str:
    """The address of a partner's room for a message that belongs to no request of its
    own: delivery picks one of the partner's encrypted rooms (``partner_address``), so the
    core never sends into a room that merely sorts first."""
    partner = await rows.partner(tx.conn, handle)
    if not partner.rooms:
        raise DomainError("partner_has_no_room", f"Partner {handle} has no registered room.")
    return partner_address(handle)


async def request_room(tx: Tx, req: Request) -> str:
    """Where everything about a request goes for its own partner: the room it was filed in
    (its thread is there), else the partner's default room."""
    if req.room:
        return req.room
    return await partner_room(tx, req.partner or "")


async def file_request(
    ctx: Context,
    tx: Tx,
    by: Acting,
    organization: str,
    skills: Iterable[str],
    languages: Iterable[str] = (),
    region: str | None = None,
    urgency: Urgency = Urgency.NORMAL,
    note: str | None = None,
    room: str | None = None,
) -> RequestResult:
    """``by``'s partner files a request for one of its own organizations (another
    partner's organization is answered as one that does not exist: need to know);
    ``room`` is the partner room it was filed in (the reply, the proposal and what
    follows go there)."""
    partner = ownership.answering_partner(by)
    found = await rows.partner(tx.conn, partner)
    if room is not None and room not in found.rooms:
        raise DomainError("not_a_partner_room", f"{room} is not a room of partner {partner}.")
    address = room or await partner_room(tx, partner)
    org = await ownership.organization(tx.conn, partner, organization)
    if org.status not in (MembershipStatus.ACTIVE, MembershipStatus.POD):
        raise DomainError(
            "organization_not_vetted",
            f"{organization} is not vetted yet: it needs references from at least "
            f"{ctx.config.policy.organization_min_references} other organizations "
            f"(then `!dsx vet {organization}`).",
        )
    skill_set = validate.tags("skills", skills, required=True)
    langs = validate.languages("langs", languages)
    region = validate.region("region", region if region is not None else org.region)
    urgency = Urgency(urgency)
    note = validate.text("note", note)
    request_id = rows.new_id("r")
    await tx.conn.execute(
        requests.insert().values(
            id=request_id,
            organization=organization,
            partner=partner,
            skills=sorted(skill_set),
            languages=sorted(langs),
            region=region,
            urgency=int(urgency),
            state=RequestState.OPEN.value,
            filed_at=tx.now,
            room=room,
        )
    )
    if note:
        await store_sealed(tx.conn, ctx.require_sealer(), organization, request_id, "note", note)
    tx.audit("request.filed", request_id, partner=partner, urgency=urgency.name.lower())
    referral = None
    if not validate.is_us(region):
        referral = global_partner(ctx)
        text = f"Request {request_id} is outside the U.S. mandate. " + (
            f"Once the organization consents, refer it with `!dsx refer {request_id} "
            f"to={referral}`; nothing is shared before that."
            if referral
            else "No global partner is configured; ask staff."
        )
        await tx.send(
            address,
            messages.notice(
                text, blocks={"org.dsx.referral": {"request": request_id, "to": referral}}
            ),
        )
        tx.audit("request.referral_suggested", request_id, to=referral)
    return RequestResult(request_id, RequestState.OPEN.value, referral)


async def cancel_pending_proposals(tx: Tx, request_id: str) -> list[str]:
    pending = (
        (
            await tx.conn.execute(
                sa.select(proposals.c.id).where(
                    proposals.c.request == request_id,
                    proposals.c.state == ProposalState.PENDING.value,
                )
            )
        )
        .scalars()
        .all()
    )
    if pending:
        await tx.conn.execute(
            proposals.update()
            .where(proposals.c.id.in_(pending))
            .values(state=ProposalState.CANCELLED.value, decided_at=tx.now)
        )
    return list(pending)


async def refer(
    ctx: Context, tx: Tx, by: Acting, request_id: str, to: str | None = None
) -> CaseOutcome:
    """Hand a non-U.S. case to the global partner (after the organization consented):
    the filing partner's own request, or any for staff."""
    req = await ownership.request(tx.conn, by, request_id, lock=True)
    to = to or global_partner(ctx)
    if to is None:
        raise DomainError("no_global_partner", "No global partner is configured for referrals.")
    target = await rows.partner(tx.conn, to)
    if not target.is_global and to != ctx.config.policy.global_partner:
        raise DomainError("not_a_global_partner", f"{to} does not take referrals.")
    advance(req.state, RequestState.REFERRED)
    await cancel_pending_proposals(tx, request_id)
    await tx.conn.execute(
        requests.update()
        .where(requests.c.id == request_id)
        .values(state=RequestState.REFERRED.value, referred_to=to, acknowledged_at=tx.now)
    )
    if target.rooms:
        text = (
            f"Referral {request_id}: skills {', '.join(sorted(req.skills))}; "
            f"region {req.region or 'unknown'}; urgency {req.urgency.name.lower()}. "
            f"Partner {req.partner} will introduce the organization."
        )
        await tx.send(
            partner_address(to),
            messages.notice(
                text, blocks={"org.dsx.referral": {"request": request_id, "from": req.partner}}
            ),
        )
    tx.audit("request.referred", request_id, to=to)
    return CaseOutcome(request_id, RequestState.REFERRED.value, to=to)


async def refuse(
    ctx: Context, tx: Tx, by: Acting, request_id: str, reason_code: str
) -> CaseOutcome:
    """Out of mandate (e.g. a hatred or division agenda): only the code and date remain.
    Staff's decision alone: to anyone else the request reads as one that does not exist."""
    ownership.staff(by, "request", request_id)
    reason_code = validate.reason_code("reason", reason_code)
    req = await rows.request(tx.conn, request_id, lock=True)
    advance(req.state, RequestState.REFUSED)
    await cancel_pending_proposals(tx, request_id)
    await retention.purge_case(
        tx.conn, request_id, req.organization, [], counted="requests_refused"
    )
    await tx.conn.execute(
        requests.update()
        .where(requests.c.id == request_id)
        .values(
            state=RequestState.REFUSED.value,
            reason_code=reason_code,
            organization=None,
            partner=None,
            skills=[],
            languages=[],
            region=None,
            acknowledged_at=tx.now,
        )
    )
    tx.audit("request.refused", request_id, code=reason_code)
    return CaseOutcome(request_id, RequestState.REFUSED.value, code=reason_code)


def sla_window(ctx: Context, urgency: Urgency) -> timedelta | None:
    if urgency is Urgency.CRITICAL:
        return timedelta(minutes=ctx.config.policy.sla_minutes_critical)
    if urgency is Urgency.HIGH:
        return timedelta(minutes=ctx.config.policy.sla_minutes_high)
    return None


async def check_sla(ctx: Context, tx: Tx) -> SlaResult:
    """Escalate each urgent, unacknowledged request past its window, once."""
    candidates = await tx.conn.execute(
        sa.select(requests)
        .where(
            requests.c.urgency >= int(Urgency.HIGH),
            requests.c.acknowledged_at.is_(None),
            requests.c.escalated_at.is_(None),
            requests.c.state.in_([s.value for s in OPEN_STATES]),
        )
        .order_by(requests.c.filed_at)
    )
    escalated = []
    for row in candidates.all():
        req = rows.request_from_row(row)
        window = sla_window(ctx, req.urgency)
        if window is None or req.filed_at + window > tx.now:
            continue
        escalated.append(req.id)
    if escalated:
        await tx.conn.execute(
            requests.update().where(requests.c.id.in_(escalated)).values(escalated_at=tx.now)
        )
        text = "Unacknowledged urgent requests past their window: " + ", ".join(escalated)
        await tx.send(ctx.staff_room, messages.staff(text, kind="sla", requests=escalated))
        for request_id in escalated:
            tx.audit("request.escalated", request_id)
    return SlaResult(tuple(escalated))
