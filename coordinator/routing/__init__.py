"""Routing and batch matching: pure, synchronous, CPU-bound functions.

No I/O and no imports from the store, the bots or the web layer: callers convert their
domain objects to the profiles in :mod:`coordinator.routing.models` and run large
rounds in a worker thread.
"""

from coordinator.routing.batch import batch_assign
from coordinator.routing.models import (
    Assignment,
    Candidate,
    Ineligible,
    ProviderProfile,
    RequestProfile,
    ScoreBreakdown,
    SolveStats,
    Tier,
    TrustView,
    Unassigned,
    Urgency,
)
from coordinator.routing.rank import Router, rank
from coordinator.routing.regions import RegionFit, region_fit
from coordinator.routing.scoring import ineligibility

__all__ = [
    "Assignment",
    "Candidate",
    "Ineligible",
    "ProviderProfile",
    "RegionFit",
    "RequestProfile",
    "Router",
    "ScoreBreakdown",
    "SolveStats",
    "Tier",
    "TrustView",
    "Unassigned",
    "Urgency",
    "batch_assign",
    "ineligibility",
    "rank",
    "region_fit",
]
