"""The coordinator's domain: typed objects, state machines and errors; no I/O."""

from coordinator.domain.errors import (
    DomainError,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    Refused,
)
from coordinator.domain.model import (
    Engagement,
    Member,
    MemberKind,
    Organization,
    Partner,
    Proposal,
    Provider,
    Request,
    Review,
    Tier,
    Urgency,
    VouchKind,
)
from coordinator.domain.states import (
    EngagementState,
    MembershipStatus,
    ProposalState,
    RequestState,
    advance,
    can_advance,
)

__all__ = [
    "DomainError",
    "Engagement",
    "EngagementState",
    "Forbidden",
    "IllegalTransition",
    "InvalidInput",
    "Member",
    "MemberKind",
    "MembershipStatus",
    "NotFound",
    "Organization",
    "Partner",
    "Proposal",
    "ProposalState",
    "Provider",
    "Refused",
    "Request",
    "RequestState",
    "Review",
    "Tier",
    "Urgency",
    "VouchKind",
    "advance",
    "can_advance",
]
