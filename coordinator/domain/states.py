"""State machines of requests, proposals, engagements and memberships.

Each machine is a table of legal transitions; ``advance`` is the only way code moves
an object between states, so an illegal move is a typed error instead of a silent
corruption.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from coordinator.domain.errors import IllegalTransition


class RequestState(StrEnum):
    OPEN = "open"  # filed, waiting for a proposal
    PROPOSED = "proposed"  # a proposal is pending approval
    UNMATCHED = "unmatched"  # no candidate left; staff were told
    ENGAGED = "engaged"
    CLOSED = "closed"
    REFERRED = "referred"  # handed to the global partner (non-U.S.)
    REFUSED = "refused"  # out of mandate; only reason code and date remain


class ProposalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class EngagementState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    REVIEWED = "reviewed"
    REROUTED = "rerouted"  # the provider was removed; the request went back to routing


class MembershipStatus(StrEnum):
    """Mirrors ``trust_graph.MemberStatus`` by name."""

    APPLICANT = "applicant"
    POD = "pod"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


S = TypeVar("S", bound=StrEnum)

REQUEST_TRANSITIONS: Mapping[RequestState, frozenset[RequestState]] = {
    RequestState.OPEN: frozenset(
        {RequestState.PROPOSED, RequestState.UNMATCHED, RequestState.REFERRED, RequestState.REFUSED}
    ),
    RequestState.PROPOSED: frozenset(
        {RequestState.OPEN, RequestState.ENGAGED, RequestState.UNMATCHED, RequestState.REFUSED}
    ),
    RequestState.UNMATCHED: frozenset(
        {RequestState.OPEN, RequestState.PROPOSED, RequestState.REFERRED, RequestState.REFUSED}
    ),
    RequestState.ENGAGED: frozenset({RequestState.CLOSED, RequestState.OPEN}),
    RequestState.CLOSED: frozenset(),
    RequestState.REFERRED: frozenset(),
    RequestState.REFUSED: frozenset(),
}

PROPOSAL_TRANSITIONS: Mapping[ProposalState, frozenset[ProposalState]] = {
    ProposalState.PENDING: frozenset(
        {ProposalState.APPROVED, ProposalState.DECLINED, ProposalState.CANCELLED}
    ),
    ProposalState.APPROVED: frozenset({ProposalState.CANCELLED}),
    ProposalState.DECLINED: frozenset(),
    ProposalState.CANCELLED: frozenset(),
}

ENGAGEMENT_TRANSITIONS: Mapping[EngagementState, frozenset[EngagementState]] = {
    EngagementState.OPEN: frozenset({EngagementState.CLOSED, EngagementState.REROUTED}),
    EngagementState.CLOSED: frozenset({EngagementState.REVIEWED}),
    EngagementState.REVIEWED: frozenset(),
    EngagementState.REROUTED: frozenset(),
}

MEMBERSHIP_TRANSITIONS: Mapping[MembershipStatus, frozenset[MembershipStatus]] = {
    MembershipStatus.APPLICANT: frozenset(
        {MembershipStatus.POD, MembershipStatus.ACTIVE, MembershipStatus.REMOVED}
    ),
    MembershipStatus.POD: frozenset(
        {MembershipStatus.ACTIVE, MembershipStatus.SUSPENDED, MembershipStatus.REMOVED}
    ),
    MembershipStatus.ACTIVE: frozenset({MembershipStatus.SUSPENDED, MembershipStatus.REMOVED}),
    MembershipStatus.SUSPENDED: frozenset({MembershipStatus.ACTIVE, MembershipStatus.REMOVED}),
    MembershipStatus.REMOVED: frozenset(),
}

_MACHINES: dict[type, tuple[str, Mapping]] = {
    RequestState: ("request", REQUEST_TRANSITIONS),
    ProposalState: ("proposal", PROPOSAL_TRANSITIONS),
    EngagementState: ("engagement", ENGAGEMENT_TRANSITIONS),
    MembershipStatus: ("membership", MEMBERSHIP_TRANSITIONS),
}


def can_advance(current: S, target: S) -> bool:
    _name, table = _MACHINES[type(current)]
    return target in table[current]


def advance(current: S, target: S) -> S:
    """Return ``target`` when the move is legal, else raise IllegalTransition."""
    if type(current) is not type(target):
        raise TypeError(f"cannot move a {type(current).__name__} to a {type(target).__name__}")
    name, table = _MACHINES[type(current)]
    if target not in table[current]:
        raise IllegalTransition(name, current.value, target.value)
    return target
