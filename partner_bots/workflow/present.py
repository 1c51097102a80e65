"""Proposals as partners read them: the core queues a plain proposal; the workflow renders
it with ``partner_bots.render`` (provider's skills and languages, why chosen, the vouching
path, probation) in the same transaction, and renders the status edits the same way.

The routing partner's rooms get the case; the vouching partner's room gets the provider
and the path only (``vouching_proposal_content``: no organization).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from coordinator.domain import MembershipStatus
from coordinator.domain.states import ProposalState
from coordinator.routing.models import Urgency
from coordinator.store.outbox import partner_address, ref
from coordinator.store.schema import outbox, proposals
from coordinator.usecases import rows
from coordinator.usecases.messages import naming
from coordinator.usecases.unit import Tx
from partner_bots.render.proposal import (
    Person,
    ProposalView,
    ProviderView,
    RequestView,
    proposal_content,
    vouching_proposal_content,
)
from partner_bots.workflow import posted

WHY = "Why: "


def _reasons(content: dict[str, Any]) -> tuple[str, ...]:
    for line in str(content.get("body", "")).splitlines():
        if line.startswith(WHY):
            return tuple(r for r in line[len(WHY) :].split("; ") if r)
    return ()


async def _view(
    tx: Tx, proposal_id: str, reasons: tuple[str, ...]
) -> tuple[ProposalView, frozenset[str]]:
    """The view of a proposal, and the routing partner's rooms (ids and default address)."""
    prop = await rows.proposal(tx.conn, proposal_id)
    req = await rows.request(tx.conn, prop.request)
    provider = await rows.provider(tx.conn, prop.provider)
    partner = await rows.partner(tx.conn, req.partner or "")
    waiting = tuple(p for p in prop.approvals_needed if p not in prop.approvals)
    view = ProposalView(
        id=prop.id,
        request=RequestView(
            id=req.id,
            org_name=req.organization or "",
            skills=tuple(sorted(req.skills)),
            languages=tuple(sorted(req.languages)),
            region=req.region,
            urgency=Urgency(int(req.urgency)),
        ),
        provider=ProviderView(
            user_id=provider.id,
            name=provider.id,
            skills=tuple(sorted(provider.skills)),
            languages=tuple(sorted(provider.languages)),
            probation=provider.status is MembershipStatus.POD,
        ),
        routing_partner=partner.handle,
        reasons=reasons,
        paths=(tuple(Person(m, m) for m in prop.path),) if prop.path else (),
        approvals_needed=waiting if prop.state is ProposalState.PENDING else (),
        status=prop.state,
    )
    return view, frozenset({*partner.rooms, partner_address(partner.handle)})


def _render(view: ProposalView, room: str, routing: frozenset[str]) -> dict[str, Any]:
    if room in routing:  # the organization by its id; delivery opens its name here only
        return {**proposal_content(view), **naming(view.request.org_name)}
    return vouching_proposal_content(view)


async def _stored_reasons(tx: Tx, proposal_id: str) -> tuple[str, ...]:
    """Routing's reasons as the proposal row keeps them (a sent message's content is
    deleted once delivered, so edits never read it)."""
    found = (
        await tx.conn.execute(sa.select(proposals.c.reasons).where(proposals.c.id == proposal_id))
    ).scalar_one_or_none()
    return tuple(str(r) for r in found) if isinstance(found, list) else ()


async def render_new_proposals(tx: Tx, after_seq: int) -> None:
    """Replace the plain content of proposals queued since ``after_seq`` (uncommitted)."""
    for post in await posted.new_proposals(tx.conn, after_seq):
        content = await posted.content_of(tx.conn, post.row)
        view, routing = await _view(tx, post.proposal, _reasons(content))
        await tx.conn.execute(
            outbox.update()
            .where(outbox.c.id == post.row)
            .values(content=_render(view, post.room, routing))
        )


async def edit_proposal(tx: Tx, proposal_id: str) -> None:
    """Queue an edit of every posted copy of the proposal, showing its current state (in
    the room each copy went to)."""
    posts = await posted.proposal_posts_of(tx.conn, proposal_id)
    if not posts:
        return
    reasons = await _stored_reasons(tx, proposal_id)
    view, routing = await _view(tx, proposal_id, reasons)
    for post in posts:
        # A delivered copy by its event id: its outbox row may be swept by then.
        edits = post.event_id or ref(post.row)
        await tx.send(post.room, _render(view, post.room, routing), edits=edits)
