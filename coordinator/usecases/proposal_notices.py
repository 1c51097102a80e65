"""A proposal's copies: one per approving partner's room, each kept current by edits.

The asking partner's copy goes to the room the request was filed in and carries its own
case; another approving partner's copy carries the needs and the provider, never the
organization (``notifications.Audience``). Each copy queued is recorded in
``proposal_posts`` under its outbox id, so every later change edits every copy found by
one indexed query on the proposal id, however many messages went out since.
"""

from __future__ import annotations

import sqlalchemy as sa

from coordinator import notifications as n
from coordinator.domain import MembershipStatus, ProposalState
from coordinator.domain.model import Partner, Proposal, Request
from coordinator.store.outbox import partner_address, ref
from coordinator.store.schema import proposal_posts, proposals
from coordinator.usecases import rows
from coordinator.usecases.unit import Tx


async def _reasons(tx: Tx, proposal_id: str) -> tuple[str, ...]:
    found = (
        await tx.conn.execute(sa.select(proposals.c.reasons).where(proposals.c.id == proposal_id))
    ).scalar_one_or_none()
    return tuple(str(r) for r in found or ())


async def view(
    tx: Tx, prop: Proposal, req: Request, audience: n.Audience, cls: type[n.ProposalPosted]
) -> n.ProposalPosted:
    """The copy ``audience`` may see of the proposal as it stands now."""
    provider = await rows.provider(tx.conn, prop.provider)
    pending = prop.state is ProposalState.PENDING
    common = dict(
        proposal=prop.id,
        request_id=req.id,
        audience=audience,
        routing_partner=req.partner or "",
        provider=prop.provider,
        provider_skills=tuple(sorted(provider.skills)),
        provider_languages=tuple(sorted(provider.languages)),
        probation=provider.status is MembershipStatus.POD,
        path=tuple(prop.path),
        reasons=await _reasons(tx, prop.id),
        waiting_for=tuple(p for p in prop.approvals_needed if p not in prop.approvals)
        if pending
        else (),
        skills=tuple(sorted(req.skills)),
        urgency=req.urgency.name.lower(),
        status=prop.state.value,
    )
    if audience is n.Audience.VOUCHING:
        return cls(**common)  # type: ignore[arg-type]
    return cls(
        **common,  # type: ignore[arg-type]
        organization=req.organization,
        languages=tuple(sorted(req.languages)),
        region=req.region,
    )


async def post(tx: Tx, prop: Proposal, req: Request, room: n.PartnerRoom) -> str:
    """Queue one copy into ``room`` and record it; the asking partner's copy when ``room``
    is its partner's, else the vouching view."""
    audience = n.Audience.ASKING if room.handle == req.partner else n.Audience.VOUCHING
    copy = await view(tx, prop, req, audience, n.ProposalPosted)
    message = await tx.notify(room, copy)
    await tx.conn.execute(
        proposal_posts.insert().values(
            message=message, proposal=prop.id, request=req.id, room=room.address
        )
    )
    return message


def _audience(room: str, asking: Partner) -> n.Audience:
    """A copy in any of the asking partner's rooms (or its default address) is its own."""
    mine = {*asking.rooms, partner_address(asking.handle)}
    return n.Audience.ASKING if room in mine else n.Audience.VOUCHING


async def changed(tx: Tx, proposal_id: str) -> int:
    """Edit every posted copy to show the proposal's current state; how many."""
    copies = (
        await tx.conn.execute(
            sa.select(proposal_posts.c.message, proposal_posts.c.room).where(
                proposal_posts.c.proposal == proposal_id
            )
        )
    ).all()
    if not copies:
        return 0
    prop = await rows.proposal(tx.conn, proposal_id)
    req = await rows.request(tx.conn, prop.request)
    asking = await rows.partner(tx.conn, req.partner) if req.partner else None
    for copy in copies:
        audience = _audience(copy.room, asking) if asking else n.Audience.VOUCHING
        handle = asking.handle if asking and audience is n.Audience.ASKING else ""
        room = _room(copy.room, handle)
        updated = await view(tx, prop, req, audience, n.ProposalUpdated)
        await tx.notify(room, updated, edits=ref(copy.message))
    return len(copies)


def _room(address: str, handle: str) -> n.PartnerRoom:
    if address.startswith(n.PARTNER_ROOM):
        return n.PartnerRoom(address[len(n.PARTNER_ROOM) :])
    return n.PartnerRoom(handle, address)
