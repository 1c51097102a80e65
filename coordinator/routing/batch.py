"""One global assignment of many open requests to few providers.

Objective, in strict order: serve as many critical requests as possible, then high, then
normal, then low (this also maximizes coverage), then minimize the summed rank cost
(``MAX_TOTAL - points``) of the chosen pairs. Capacity is never exceeded.

Method: a min-cost bipartite assignment (scipy's LAPJVsp, ``min_weight_full_bipartite_
matching``) over only the eligible pairs, each provider split into one column per free
slot, each slot with a private dummy row so "leave the slot empty" is always possible.
A pair's weight is ``(urgency + 1) * G - cost`` with ``G`` larger than any possible total
cost. Why that is exactly the lexicographic optimum: the sets of requests that can be
served together form a (transversal) matroid, and the urgency-greedy basis has the most
requests at or above every urgency level at once. Any other set falls short at some
level by at least one request, so it loses at least ``G`` in weight, more than any cost
saving can repay. All weights are integers far below 2**53, so float64 stays exact.
The solver itself (with its optimality proof on a reduced pair set) is in ``solver``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from coordinator.logs import get_logger
from coordinator.routing.index import ProviderIndex
from coordinator.routing.models import (
    Assignment,
    Candidate,
    ProviderProfile,
    RequestProfile,
    TrustView,
    Unassigned,
)
from coordinator.routing.scoring import MAX_TOTAL, PROBATION_POINTS, candidate
from coordinator.routing.solver import Pairs, solve

log = get_logger(__name__)

MAX_COST = MAX_TOTAL - min(0, PROBATION_POINTS)


def order_requests(requests: Sequence[RequestProfile]) -> list[RequestProfile]:
    """Most urgent first, then oldest, then by id: the order used everywhere in a batch."""
    ids = [r.id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("request ids must be unique")
    return sorted(requests, key=lambda r: (-int(r.urgency), r.filed_at, r.id))


def batch_assign(
    requests: Sequence[RequestProfile],
    providers: Sequence[ProviderProfile],
    trust: Mapping[str, TrustView],
    exclude: Mapping[str, AbstractSet[str]] | None = None,
    top_k: int = 16,
) -> Assignment:
    """Assign open requests to providers globally; ``exclude`` maps a request to declines.

    ``top_k`` only tunes speed (how many of each request's best pairs the solver starts
    from); the result is the exact optimum whatever its value.
    """
    ordered = order_requests(requests)
    index = ProviderIndex(providers, trust)
    exclude = exclude or {}

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    costs: list[np.ndarray] = []
    ranks: list[np.ndarray] = []
    unassigned: dict[str, Unassigned] = {}
    for row, request in enumerate(ordered):
        scored = index.scored(request, exclude.get(request.id, frozenset()))
        if len(scored.positions) == 0:
            unassigned[request.id] = Unassigned.NO_CANDIDATE
            continue
        rows.append(np.full(len(scored.positions), row, dtype=np.int64))
        cols.append(scored.positions)
        costs.append(MAX_TOTAL - scored.totals)
        ranks.append(np.arange(len(scored.positions)))

    chosen: dict[int, int] = {}
    stats = None
    total_cost = 0
    if rows:
        pairs = Pairs(
            row=np.concatenate(rows),
            col=np.concatenate(cols),
            cost=np.concatenate(costs),
            rank=np.concatenate(ranks),
        )
        urgency = np.array([int(r.urgency) for r in ordered], dtype=np.int64)
        chosen, stats = solve(pairs, urgency, index.free, MAX_COST, top_k=top_k)

    assigned: dict[str, str] = {}
    explained: dict[str, Candidate] = {}
    for row, at in sorted(chosen.items()):
        request, provider = ordered[row], index.providers[at]
        assigned[request.id] = provider.id
        explained[request.id] = candidate(request, provider, trust[provider.id])
        total_cost += MAX_TOTAL - explained[request.id].score.total
    for request in ordered:
        if request.id not in assigned and request.id not in unassigned:
            unassigned[request.id] = Unassigned.CAPACITY
    log.info(
        "routing.batch_assigned",
        requests=len(ordered),
        providers=index.size,
        assigned=len(assigned),
        unassigned=len(unassigned),
        rounds=stats.rounds if stats else 0,
        pairs_used=stats.pairs_used if stats else 0,
        pairs_total=stats.pairs_total if stats else 0,
        proved=stats.proved if stats else True,
    )
    return Assignment(
        assigned=assigned,
        unassigned=unassigned,
        total_cost=total_cost,
        candidates=explained,
        stats=stats,
    )
