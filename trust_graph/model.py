"""Domain vocabulary of the trust graph: member kinds and states, policy, decisions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MemberKind(StrEnum):
    PARTNER = "partner"
    STAFF = "staff"
    PROVIDER = "provider"
    ORGANIZATION = "organization"


class MemberStatus(StrEnum):
    APPLICANT = "applicant"
    POD = "pod"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


class EdgeKind(StrEnum):
    VOUCH = "vouch"
    REFERENCE = "reference"


# Small integer codes used in the array snapshot (order is part of the snapshot format).
KIND_CODES: tuple[MemberKind, ...] = tuple(MemberKind)
STATUS_CODES: tuple[MemberStatus, ...] = tuple(MemberStatus)
EDGE_CODES: tuple[EdgeKind, ...] = tuple(EdgeKind)
# Members with these states take no part in trust at all (neither receive nor pass it).
EXCLUDED_STATUSES = frozenset({MemberStatus.SUSPENDED, MemberStatus.REMOVED})


class UnknownMember(KeyError):
    """A member id that the graph does not hold."""

    def __init__(self, member: str) -> None:
        super().__init__(member)
        self.member = member

    def __str__(self) -> str:
        return f"unknown member: {self.member!r}"


@dataclass(frozen=True)
class Policy:
    """Vetting configuration in an operator's terms; every capacity follows from them.

    ``expected_members``: how large the network is expected to grow (never the live
    count). ``fakes_per_member``: how many fakes one compromised member may bring in.
    ``colluders``: how many compromised members, acting together, the bound must hold
    for. The rule they drive (the core rule) and its proof are in docs/trust.md.

    ``capacities`` is the expert escape hatch: a non-empty tuple selects the classic
    Advogato schedule instead, ``capacities[d]`` being the capacity at distance ``d``
    from the seeds (levels past the tuple get 1, members past ``max_depth`` nothing).
    ``max_depth`` applies to that schedule only.
    """

    capacities: tuple[int, ...] = ()
    max_depth: int = 6
    provider_min_references: int = 2
    organization_min_references: int = 2
    max_paths: int = 3
    expected_members: int = 2000
    fakes_per_member: int = 12
    colluders: int = 2

    def __post_init__(self) -> None:
        if any(c < 1 for c in self.capacities):
            raise ValueError("capacities must be positive integers")
        if self.max_depth < 0:
            raise ValueError("max_depth must be >= 0")
        if not 1 <= self.max_paths <= 3:
            raise ValueError("max_paths must be between 1 and 3")
        if self.provider_min_references < 1 or self.organization_min_references < 1:
            raise ValueError("minimum reference counts must be >= 1")
        if self.expected_members < 1:
            raise ValueError("expected_members must be >= 1")
        if self.fakes_per_member < 1:
            raise ValueError("fakes_per_member must be >= 1")
        if self.colluders < 1:
            raise ValueError("colluders must be >= 1")

    @property
    def scheduled(self) -> bool:
        """Whether the expert Advogato schedule is in force instead of the core rule."""
        return bool(self.capacities)

    @property
    def core_vouches(self) -> int:
        """Vouches from core members that make a member core: one more than the colluders."""
        return self.colluders + 1

    @property
    def member_capacity(self) -> int:
        """Core-flow capacity of a member: itself plus ``fakes_per_member`` passed on."""
        return self.fakes_per_member + 1

    @property
    def flat_capacity(self) -> int:
        """Capacity of every member in the safety-net flow: ceil(sqrt(expected_members)).

        Two levels of vouching below any member then hold the expected membership, so
        the net does not bind an honest network of that size; it bounds collusions
        larger than ``colluders``.
        """
        return max(self.member_capacity, math.isqrt(self.expected_members - 1) + 1)

    def bound(self, colluders: int) -> int | None:
        """Most members that ``colluders`` compromised non-seed members can bring in.

        Counts every accepted member all of whose vouching paths from the seeds run
        through the colluders (fakes and honest dependents alike). None for the expert
        schedule, whose bound depends on where the colluders sit.
        """
        if self.scheduled:
            return None
        if colluders <= self.colluders:
            return colluders * self.fakes_per_member
        return colluders * (self.flat_capacity - 1)

    def capacity_at(self, depth: int) -> int:
        if not self.scheduled:
            return self.member_capacity
        if depth > self.max_depth:
            return 0
        return self.capacities[depth] if depth < len(self.capacities) else 1


@dataclass(frozen=True)
class Reason:
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Decision:
    member: str
    eligible: bool
    reasons: tuple[Reason, ...]
    shortest_path: tuple[str, ...] | None
    disjoint_paths: tuple[tuple[str, ...], ...]
    cut: tuple[str, ...]
    probation: bool
    codes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", tuple(r.code for r in self.reasons))

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "eligible": self.eligible,
            "probation": self.probation,
            "reasons": [r.to_dict() for r in self.reasons],
            "shortest_path": list(self.shortest_path) if self.shortest_path else None,
            "disjoint_paths": [list(p) for p in self.disjoint_paths],
            "cut": list(self.cut),
        }


@dataclass(frozen=True)
class RemovalImpact:
    removed: str
    edges_dropped: int
    orphaned: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "removed": self.removed,
            "edges_dropped": self.edges_dropped,
            "orphaned": list(self.orphaned),
        }


@dataclass(frozen=True)
class BlastRadius:
    """What depends on one member, should they turn out to be compromised.

    ``accepted``: accepted members who would lose every path from the seeds without them.
    ``waiting``: members reachable only through them and not accepted (fakes in waiting,
    or honest newcomers). ``passes_on``: units of trust they pass to others in the flow.
    ``bound``: the most the policy lets one compromised member bring in (docs/trust.md).
    """

    member: str
    accepted: tuple[str, ...]
    waiting: tuple[str, ...]
    passes_on: int
    bound: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "accepted_dependents": len(self.accepted),
            "waiting_dependents": len(self.waiting),
            "passes_on": self.passes_on,
            "bound": self.bound,
            "accepted": list(self.accepted),
            "waiting": list(self.waiting),
        }
