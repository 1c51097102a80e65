"""``proposal.created`` and ``proposal.updated``: the routing partner's full view, or the
vouching partner's view without the organization (``partner_bots.render.proposal``)."""

from __future__ import annotations

from typing import Any

from coordinator import notifications as n
from coordinator.domain.states import ProposalState
from coordinator.routing.models import Urgency
from partner_bots.render.notifications.registry import Where, renders
from partner_bots.render.proposal import (
    Person,
    ProposalView,
    ProviderView,
    RequestView,
    proposal_content,
    vouching_proposal_content,
)


def view(p: n.ProposalPosted) -> ProposalView:
    return ProposalView(
        id=p.proposal,
        request=RequestView(
            id=p.request_id,
            org_name=p.organization or "",
            skills=p.skills,
            languages=p.languages,
            region=p.region,
            urgency=Urgency[p.urgency.upper()],
        ),
        provider=ProviderView(
            user_id=p.provider,
            name=p.provider,
            skills=p.provider_skills,
            languages=p.provider_languages,
            probation=p.probation,
        ),
        routing_partner=p.routing_partner,
        reasons=p.reasons,
        paths=(tuple(Person(m, m) for m in p.path),) if p.path else (),
        approvals_needed=p.waiting_for,
        status=ProposalState(p.status),
    )


@renders(n.ProposalPosted)
def created(p: n.ProposalPosted, where: Where) -> dict[str, Any]:
    if p.audience is n.Audience.ASKING:
        return proposal_content(view(p))
    return vouching_proposal_content(view(p))


@renders(n.ProposalUpdated)
def updated(p: n.ProposalUpdated, where: Where) -> dict[str, Any]:
    """The copy's new content; delivery wraps it as an edit of the posted copy."""
    return created(p, where)
