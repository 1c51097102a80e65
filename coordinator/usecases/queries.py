"""Read-only views for `!dsx status` and the dashboard, with need-to-know built in:
a partner sees its own requests (with the organization handle) and, for a proposal it
must approve, the request's needs without the organization; anything else does not
exist as far as that partner can tell. ``partner=None`` is the staff view: no
organization at all."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.domain import Forbidden, ProposalState, RequestState
from coordinator.store.schema import engagements, proposals, requests
from coordinator.usecases import ownership, rows
from coordinator.usecases.acting import Acting

LIVE_PROPOSALS = (ProposalState.PENDING.value, ProposalState.APPROVED.value)


@dataclass(frozen=True)
class RequestStatus:
    request: str
    state: str
    urgency: str
    skills: tuple[str, ...]
    filed_at: str
    organization: str | None  # only for the partner who filed it
    proposal: str | None
    provider: str | None
    approvals_needed: tuple[str, ...]
    approvals: tuple[str, ...]
    engagement: str | None


async def request_status(
    conn: AsyncConnection, request_id: str, partner: str | None
) -> RequestStatus:
    req = await rows.request(conn, request_id)
    live = (
        await conn.execute(
            sa.select(proposals)
            .where(proposals.c.request == request_id, proposals.c.state.in_(LIVE_PROPOSALS))
            .order_by(proposals.c.created_at.desc())
            .limit(1)
        )
    ).first()
    owner = partner is not None and partner == req.partner
    approver = partner is not None and live is not None and partner in live.approvals_needed
    if partner is not None and not (owner or approver):
        raise Forbidden("request", request_id, "not_this_partners_request")
    engagement = (
        await conn.execute(
            sa.select(engagements.c.id)
            .where(engagements.c.request == request_id)
            .order_by(engagements.c.opened_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return RequestStatus(
        request=req.id,
        state=req.state.value,
        urgency=req.urgency.name.lower(),
        skills=tuple(sorted(req.skills)),
        filed_at=req.filed_at.date().isoformat(),
        organization=req.organization if owner else None,
        proposal=live.id if live is not None else None,
        provider=live.provider if live is not None else None,
        approvals_needed=tuple(live.approvals_needed) if live is not None else (),
        approvals=tuple(live.approvals) if live is not None else (),
        engagement=engagement if (owner or partner is None) else None,
    )


async def status_of(conn: AsyncConnection, by: Acting, ident: str) -> RequestStatus:
    """``!dsx status <id>`` for a request, proposal or engagement id, as ``by`` may see it:
    staff get the staff view, a partner its own requests and the proposals it must
    approve; anything else is answered exactly as an id of that kind that does not exist."""
    view = None if by.partner is None and by.sees_all else ownership.answering_partner(by)
    what, request_id = "request", ident
    if ident.startswith("p-"):
        what, request_id = "proposal", (await rows.proposal(conn, ident)).request
    elif ident.startswith("e-"):
        what, request_id = "engagement", (await rows.engagement(conn, ident)).request
    try:
        return await request_status(conn, request_id, view)
    except Forbidden as refused:
        raise Forbidden(what, ident, refused.reason) from None


async def open_requests(conn: AsyncConnection, partner: str) -> list[RequestStatus]:
    """The partner's own requests that are not finished, oldest first."""
    done = (RequestState.CLOSED.value, RequestState.REFERRED.value, RequestState.REFUSED.value)
    ids = (
        await conn.execute(
            sa.select(requests.c.id)
            .where(requests.c.partner == partner, requests.c.state.not_in(done))
            .order_by(requests.c.filed_at, requests.c.id)
        )
    ).scalars()
    return [await request_status(conn, request_id, partner) for request_id in list(ids)]
