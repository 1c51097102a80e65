"""Read-only explanations of trust for the vetting queue and the member page.

A port, so the web layer reads decisions without writing any: the adapter asks the
coordinator's in-memory trust graph (refreshed from the database first), exactly the
computation ``!dsx vet`` and ``!dsx path`` use, without moving anyone's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import trust_graph as tg
from coordinator.usecases import Coordinator


@dataclass(frozen=True)
class Explanation:
    member: str
    eligible: bool
    probation: bool
    reasons: tuple[str, ...]  # human sentences
    codes: tuple[str, ...]
    shortest_path: tuple[str, ...]
    disjoint_paths: tuple[tuple[str, ...], ...]
    cut: tuple[str, ...]  # on refusal: the members all support runs through


class TrustExplainer(Protocol):
    async def explain(self, member: str) -> Explanation | None: ...

    async def impact(self, member: str) -> tg.BlastRadius | None: ...


class CoordinatorTrust:
    def __init__(self, coordinator: Coordinator):
        self._coord = coordinator

    async def explain(self, member: str) -> Explanation | None:
        trust = self._coord.trust
        async with self._coord.engine.connect() as conn:
            await trust.refresh(conn)
        if member not in trust.graph:
            return None
        try:
            decision = trust.graph.vet(member, trust.policy, trust.seeds)
        except tg.UnknownMember:
            return None
        return Explanation(
            member=member,
            eligible=decision.eligible,
            probation=decision.probation,
            reasons=tuple(r.message for r in decision.reasons),
            codes=decision.codes,
            shortest_path=tuple(decision.shortest_path or ()),
            disjoint_paths=tuple(tuple(p) for p in decision.disjoint_paths),
            cut=tuple(decision.cut),
        )

    async def impact(self, member: str) -> tg.BlastRadius | None:
        """Blast radius for staff: who depends on ``member`` (docs/trust.md)."""
        trust = self._coord.trust
        async with self._coord.engine.connect() as conn:
            await trust.refresh(conn)
        if member not in trust.graph:
            return None
        try:
            return trust.graph.blast_radius(member, trust.policy, trust.seeds)
        except tg.UnknownMember:
            return None
