"""Domain vocabulary of the trust graph: member kinds and states, policy, decisions."""

from __future__ import annotations

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
    """Vetting configuration; capacities come from expected membership, never the live graph.

    ``capacities[d]`` is the Advogato capacity of members at distance ``d`` from the seeds
    (seeds at 0); levels past the tuple get 1, members past ``max_depth`` get nothing.
    """

    capacities: tuple[int, ...] = (800, 200, 50, 12, 4, 2, 1)
    max_depth: int = 6
    provider_min_references: int = 2
    organization_min_references: int = 2
    max_paths: int = 3

    def __post_init__(self) -> None:
        if not self.capacities or any(c < 1 for c in self.capacities):
            raise ValueError("capacities must be a non-empty tuple of positive integers")
        if self.max_depth < 0:
            raise ValueError("max_depth must be >= 0")
        if not 1 <= self.max_paths <= 3:
            raise ValueError("max_paths must be between 1 and 3")
        if self.provider_min_references < 1 or self.organization_min_references < 1:
            raise ValueError("minimum reference counts must be >= 1")

    def capacity_at(self, depth: int) -> int:
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
