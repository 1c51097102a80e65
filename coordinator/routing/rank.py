"""Ranking the candidates for one request: deterministic and explained."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

from coordinator.routing.index import ProviderIndex
from coordinator.routing.models import Candidate, ProviderProfile, RequestProfile, TrustView
from coordinator.routing.scoring import candidate


class Router:
    """Ranks many requests against one snapshot of providers and trust.

    Build it once per routing round; each :meth:`rank` then costs a few vector operations
    plus one explanation per returned candidate.
    """

    def __init__(self, providers: Sequence[ProviderProfile], trust: Mapping[str, TrustView]):
        self.index = ProviderIndex(providers, trust)

    def rank(
        self,
        request: RequestProfile,
        exclude: AbstractSet[str] = frozenset(),
        limit: int | None = None,
    ) -> list[Candidate]:
        """Candidates best first (total points, then provider id); ``limit`` keeps the top."""
        scored = self.index.scored(request, exclude)
        positions = scored.positions if limit is None else scored.positions[:limit]
        providers, trust = self.index.providers, self.index.trust
        out = []
        for at in positions.tolist():
            provider = providers[at]
            out.append(candidate(request, provider, trust[provider.id]))
        return out


def rank(
    request: RequestProfile,
    providers: Sequence[ProviderProfile],
    trust: Mapping[str, TrustView],
    exclude: AbstractSet[str] = frozenset(),
) -> list[Candidate]:
    """Every eligible provider for ``request``, best first, each with its explanation."""
    return Router(providers, trust).rank(request, exclude)
