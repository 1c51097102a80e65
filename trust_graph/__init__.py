"""A pure library over a vouching graph: vetting policy, explainable paths, flow metric.

No I/O beyond :mod:`trust_graph.formats`, and no imports from the rest of the project.
"""

from trust_graph.graph import TrustGraph, UpdateStats
from trust_graph.model import (
    BlastRadius,
    Decision,
    EdgeKind,
    MemberKind,
    MemberStatus,
    Policy,
    Reason,
    RemovalImpact,
    UnknownMember,
)

__all__ = [
    "BlastRadius",
    "Decision",
    "EdgeKind",
    "MemberKind",
    "MemberStatus",
    "Policy",
    "Reason",
    "RemovalImpact",
    "TrustGraph",
    "UnknownMember",
    "UpdateStats",
]
