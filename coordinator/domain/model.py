"""Domain objects: immutable snapshots of what the store holds.

Personal data of organizations never appears here in clear: the store holds it
sealed, and only a delivery path with the private key opens it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coordinator.domain.states import (
    EngagementState,
    MembershipStatus,
    ProposalState,
    RequestState,
)
from coordinator.routing.models import Tier, Urgency
from trust_graph import EdgeKind, MemberKind

# One vocabulary across the layers: routing and the trust graph define these enums and
# the domain re-exports them, so a value never needs converting between layers.
VouchKind = EdgeKind


@dataclass(frozen=True)
class Partner:
    handle: str
    rooms: tuple[str, ...]
    members: tuple[str, ...]
    is_global: bool = False


@dataclass(frozen=True)
class Member:
    id: str
    kind: MemberKind
    status: MembershipStatus


@dataclass(frozen=True)
class Provider:
    id: str
    status: MembershipStatus
    skills: frozenset[str]
    languages: frozenset[str]
    regions: frozenset[str]
    capacity: int
    tier: Tier
    organizations: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Organization:
    id: str
    partner: str
    status: MembershipStatus
    region: str | None
    areas: frozenset[str]


@dataclass(frozen=True)
class Request:
    id: str
    organization: str | None  # None once refused out of mandate
    partner: str | None
    skills: frozenset[str]
    languages: frozenset[str]
    region: str | None
    urgency: Urgency
    state: RequestState
    filed_at: datetime
    room: str | None = None  # the room it was filed in (None: the partner's default room)


@dataclass(frozen=True)
class Proposal:
    id: str
    request: str
    provider: str
    state: ProposalState
    path: tuple[str, ...]
    approvals_needed: tuple[str, ...]  # partner handles
    approvals: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class Engagement:
    id: str
    request: str
    proposal: str
    provider: str
    partner: str
    state: EngagementState
    opened_at: datetime


@dataclass(frozen=True)
class Review:
    engagement: str
    conduct: int
    contract: int
    communication: int
    code_of_conduct_violation: bool = False

    @property
    def satisfactory(self) -> bool:
        """Every part at 3 or better and no code-of-conduct violation (our threshold)."""
        return (
            not self.code_of_conduct_violation
            and min(self.conduct, self.contract, self.communication) >= 3
        )
