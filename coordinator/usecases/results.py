"""What use cases return: flat, frozen, JSON-able (a duplicate event gets the same back)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MemberResult:
    member: str
    kind: str
    status: str


@dataclass(frozen=True)
class VouchResult:
    author: str
    target: str
    kind: str
    active: bool  # False after unvouch


@dataclass(frozen=True)
class VetResult:
    member: str
    eligible: bool
    status: str
    probation: bool
    reasons: tuple[str, ...]  # reason codes
    messages: tuple[str, ...]  # human sentences, same order
    path: tuple[str, ...]


@dataclass(frozen=True)
class RequestResult:
    request: str
    state: str
    referral_to: str | None = None  # the global partner, for a non-U.S. case


@dataclass(frozen=True)
class Filed:
    """A request filed and routed in one transaction (``usecases.filing``)."""

    request: str
    state: str  # "proposed", "unmatched", or "open" when it is to be referred
    referral_to: str | None = None  # the global partner, for a non-U.S. case
    proposal: str | None = None
    provider: str | None = None
    path: tuple[str, ...] = ()
    approvals_needed: tuple[str, ...] = ()
    created: bool = False  # a proposal was created by this filing


@dataclass(frozen=True)
class RouteResult:
    request: str
    state: str
    proposal: str | None
    provider: str | None
    created: bool  # False when the request already had a pending proposal
    path: tuple[str, ...] = ()
    approvals_needed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Withdrawn:
    """A partner's approval taken back while the proposal was still pending."""

    proposal: str
    approvals: tuple[str, ...]
    waiting_for: tuple[str, ...]


@dataclass(frozen=True)
class PathResult:
    """The shortest vouching path from ``source`` to ``member`` (empty: none), as the
    caller may see it (docs/security.md, "Who may do what")."""

    source: str
    member: str
    path: tuple[str, ...]


@dataclass(frozen=True)
class ApprovalResult:
    proposal: str
    state: str
    approvals: tuple[str, ...]
    waiting_for: tuple[str, ...]
    engagement: str | None


@dataclass(frozen=True)
class DeclineResult:
    proposal: str
    next_proposal: str | None
    next_provider: str | None
    request_state: str


@dataclass(frozen=True)
class EngagementResult:
    engagement: str
    request: str
    provider: str
    room: str  # logical room name of the create_room outbox row


@dataclass(frozen=True)
class CloseResult:
    engagement: str
    purged_rows: int
    archived: bool


@dataclass(frozen=True)
class ReviewResult:
    engagement: str
    satisfactory: bool
    notation: bool
    promoted: bool
    removed: bool


@dataclass(frozen=True)
class RemovalResult:
    member: str
    cancelled_proposals: tuple[str, ...]
    rerouted_requests: tuple[str, ...]
    needs_revouching: tuple[str, ...]
    # Removing an organization ends its cases:
    cancelled_requests: tuple[str, ...] = ()
    closed_engagements: tuple[str, ...] = ()
    purged_rows: int = 0


@dataclass(frozen=True)
class CaseOutcome:
    """Referral or refusal: what remains of the request."""

    request: str
    state: str
    code: str | None = None
    to: str | None = None


@dataclass(frozen=True)
class SlaResult:
    escalated: tuple[str, ...]


@dataclass(frozen=True)
class IntakeReceipt:
    """A public-form submission received (``usecases.intake``)."""

    reference: str
    referral: bool  # outside the U.S.: marked for the global partner


@dataclass(frozen=True)
class IntakePurge:
    references: tuple[str, ...]  # public-form submissions whose sealed fields were deleted


@dataclass(frozen=True)
class IdentityConfirmation:
    """Staff accepted a member's changed encryption identity (their master key)."""

    user: str
    master_key: str


@dataclass(frozen=True)
class AnchorResult:
    posted: bool  # False: not due, or no staff room to post to
    count: int
    hash: str
