"""Inputs and outputs of routing, independent of the coordinator's domain and store.

The domain converts its own objects into these profiles, so routing stays a pure,
synchronous function that callers can run in a worker thread when the input is large.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum


class Urgency(IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, text: str) -> Urgency:
        """``"high"`` → ``Urgency.HIGH``; a KeyError names an unknown level."""
        return cls[text.strip().upper()]


class Tier(StrEnum):
    PRIMARY = "primary"  # core trusted "primary responders"
    SPECIALIST = "specialist"  # the "Cyber Squad", called in for specific technical needs


@dataclass(frozen=True)
class ProviderProfile:
    id: str
    skills: frozenset[str]
    languages: frozenset[str]
    regions: frozenset[str]
    capacity: int
    load: int
    tier: Tier
    probation: bool
    organizations: frozenset[str] = frozenset()  # organizations the provider is a member of

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.load)


@dataclass(frozen=True)
class RequestProfile:
    id: str
    organization: str
    skills: frozenset[str]
    languages: frozenset[str]
    region: str | None
    urgency: Urgency
    filed_at: datetime
    asking_partner: str


@dataclass(frozen=True)
class TrustView:
    """What the trust graph says about one provider, seen from the asking side."""

    accepted: bool
    path_from_partner: tuple[str, ...] | None
    via_partner: str | None  # the partner whose web of trust admitted the provider


@dataclass(frozen=True)
class ScoreBreakdown:
    """Integer points per criterion; integers keep the ranking exact and reproducible."""

    community: int = 0  # came in through the asking partner's web of trust
    path: int = 0  # shorter vouching path
    region: int = 0  # in the region, or near it
    language: int = 0  # share of requested languages spoken
    skills: int = 0  # how focused the provider's expertise is on what is asked
    load: int = 0  # share of capacity still free
    tier: int = 0  # primary responders before specialists
    probation: int = 0  # a small penalty while in the probation pod

    @property
    def total(self) -> int:
        return (
            self.community
            + self.path
            + self.region
            + self.language
            + self.skills
            + self.load
            + self.tier
            + self.probation
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "community": self.community,
            "path": self.path,
            "region": self.region,
            "language": self.language,
            "skills": self.skills,
            "load": self.load,
            "tier": self.tier,
            "probation": self.probation,
            "total": self.total,
        }


@dataclass(frozen=True)
class Candidate:
    provider: str
    score: ScoreBreakdown
    path: tuple[str, ...] | None
    reasons: tuple[str, ...]  # human sentences: why this provider
    via_partner: str | None = None


class Ineligible(StrEnum):
    """Why a provider is not a candidate for a request (first failing rule)."""

    NOT_ACCEPTED = "not_accepted"
    NO_CAPACITY = "no_capacity"
    SAME_ORGANIZATION = "same_organization"
    DECLINED = "declined"
    MISSING_SKILLS = "missing_skills"
    NO_LANGUAGE = "no_language"
    OUT_OF_REGION = "out_of_region"


class Unassigned(StrEnum):
    NO_CANDIDATE = "no_candidate"  # no provider is eligible at all
    CAPACITY = "capacity"  # candidates exist, but their slots went to other requests


@dataclass(frozen=True)
class SolveStats:
    """How the batch solver got its answer (for benchmarks and logs)."""

    rounds: int
    pairs_used: int
    pairs_total: int
    proved: bool  # optimality shown by potentials; False means the full problem was solved


@dataclass(frozen=True)
class Assignment:
    """One global assignment of open requests to providers."""

    assigned: Mapping[str, str]  # request id -> provider id
    unassigned: Mapping[str, Unassigned]  # request id -> why not
    total_cost: int  # sum of rank costs of the assigned pairs (lower is better)
    candidates: Mapping[str, Candidate] = field(default_factory=dict)  # request id -> explanation
    stats: SolveStats | None = None

    def coverage(self, urgencies: Mapping[str, Urgency]) -> dict[Urgency, int]:
        """Assigned requests per urgency level, given each request's urgency."""
        counts = dict.fromkeys(Urgency, 0)
        for request in self.assigned:
            counts[urgencies[request]] += 1
        return counts
