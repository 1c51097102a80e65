"""Plain baselines for batch matching: networkx min-cost flow and a naive greedy.

Both are slow or weak on purpose-free ground: the flow is the textbook formulation the
fast solver in :mod:`coordinator.routing.batch` is checked against (tests) and measured
against (``bench/matching.py``); the greedy is what one writes first, and it can leave
requests unserved that a global assignment would serve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np

from coordinator.routing.batch import MAX_COST, order_requests
from coordinator.routing.index import ProviderIndex
from coordinator.routing.models import (
    Assignment,
    ProviderProfile,
    RequestProfile,
    TrustView,
    Unassigned,
    Urgency,
)
from coordinator.routing.scoring import MAX_TOTAL

_SOURCE, _SINK = ("source",), ("sink",)


def _pairs(
    requests: Sequence[RequestProfile],
    providers: Sequence[ProviderProfile],
    trust: Mapping[str, TrustView],
) -> tuple[ProviderIndex, list[RequestProfile], dict[str, list[tuple[str, int]]]]:
    index = ProviderIndex(providers, trust)
    ordered = order_requests(requests)
    pairs = {}
    for request in ordered:
        scored = index.scored(request)
        pairs[request.id] = [
            (index.providers[at].id, MAX_TOTAL - int(total))
            for at, total in zip(scored.positions.tolist(), scored.totals.tolist(), strict=True)
        ]
    return index, ordered, pairs


def _result(
    ordered: list[RequestProfile],
    pairs: dict[str, list[tuple[str, int]]],
    assigned: dict[str, str],
) -> Assignment:
    cost = {(r, p): c for r, options in pairs.items() for p, c in options}
    unassigned = {
        r.id: Unassigned.CAPACITY if pairs[r.id] else Unassigned.NO_CANDIDATE
        for r in ordered
        if r.id not in assigned
    }
    total = sum(cost[(r, p)] for r, p in assigned.items())
    return Assignment(assigned=assigned, unassigned=unassigned, total_cost=total)


def flow_assign(
    requests: Sequence[RequestProfile],
    providers: Sequence[ProviderProfile],
    trust: Mapping[str, TrustView],
) -> Assignment:
    """Max flow, then min cost, with exact integer urgency tiers (``networkx`` simplex)."""
    index, ordered, pairs = _pairs(requests, providers, trust)
    n = max(1, len(ordered))
    # Exact lexicographic tiers: one more request at a level beats anything below it.
    tier = {u: (MAX_COST + 1) * (n + 1) ** (int(u) + 1) for u in Urgency}
    top = tier[Urgency.CRITICAL]
    graph = nx.DiGraph()
    for request in ordered:
        graph.add_edge(_SOURCE, ("r", request.id), capacity=1, weight=0)
        for provider_id, cost in pairs[request.id]:
            weight = top - tier[request.urgency] + cost
            graph.add_edge(("r", request.id), ("p", provider_id), capacity=1, weight=weight)
    for provider in index.providers:
        if graph.has_node(("p", provider.id)):
            graph.add_edge(("p", provider.id), _SINK, capacity=int(provider.free), weight=0)
    assigned: dict[str, str] = {}
    if graph.has_node(_SINK):
        flow = nx.max_flow_min_cost(graph, _SOURCE, _SINK)
        for request in ordered:
            for node, units in flow[("r", request.id)].items():
                if units:
                    assigned[request.id] = node[1]
    return _result(ordered, pairs, assigned)


def greedy_assign(
    requests: Sequence[RequestProfile],
    providers: Sequence[ProviderProfile],
    trust: Mapping[str, TrustView],
) -> Assignment:
    """Most urgent, oldest request first takes its best candidate with a free slot."""
    index = ProviderIndex(providers, trust)
    free = index.free.copy()
    assigned: dict[str, str] = {}
    unassigned: dict[str, Unassigned] = {}
    total = 0
    for request in order_requests(requests):
        scored = index.scored(request)
        if len(scored.positions) == 0:
            unassigned[request.id] = Unassigned.NO_CANDIDATE
            continue
        open_ = np.flatnonzero(free[scored.positions] > 0)
        if len(open_) == 0:
            unassigned[request.id] = Unassigned.CAPACITY
            continue
        at = int(scored.positions[open_[0]])
        free[at] -= 1
        assigned[request.id] = index.providers[at].id
        total += MAX_TOTAL - int(scored.totals[open_[0]])
    return Assignment(assigned=assigned, unassigned=unassigned, total_cost=total)
