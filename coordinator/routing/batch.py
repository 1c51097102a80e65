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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

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
) -> Assignment:
    """Assign open requests to providers globally; ``exclude`` maps a request to declines."""
    ordered = order_requests(requests)
    index = ProviderIndex(providers, trust)
    exclude = exclude or {}

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    costs: list[np.ndarray] = []
    unassigned: dict[str, Unassigned] = {}
    for row, request in enumerate(ordered):
        scored = index.scored(request, exclude.get(request.id, frozenset()))
        if len(scored.positions) == 0:
            unassigned[request.id] = Unassigned.NO_CANDIDATE
            continue
        rows.append(np.full(len(scored.positions), row, dtype=np.int64))
        cols.append(scored.positions)
        costs.append(MAX_TOTAL - scored.totals)

    chosen: dict[int, int] = {}
    total_cost = 0
    if rows:
        pair_row = np.concatenate(rows)
        pair_col = np.concatenate(cols)
        pair_cost = np.concatenate(costs)
        urgency = np.array([int(r.urgency) for r in ordered], dtype=np.int64)
        chosen = _solve(pair_row, pair_col, pair_cost, urgency, index.free)

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
    )
    return Assignment(
        assigned=assigned, unassigned=unassigned, total_cost=total_cost, candidates=explained
    )


def _solve(
    pair_row: np.ndarray,
    pair_col: np.ndarray,
    pair_cost: np.ndarray,
    urgency: np.ndarray,
    free: np.ndarray,
) -> dict[int, int]:
    """Rows (requests) -> provider positions, by min-cost assignment over free slots."""
    n_rows = len(urgency)
    used = np.unique(pair_col)
    slots_of = np.zeros(len(free), dtype=np.int64)
    slots_of[used] = free[used]
    first_slot = np.concatenate([[0], np.cumsum(slots_of)[:-1]])
    n_slots = int(slots_of.sum())
    if n_slots == 0:
        return {}

    gap = (MAX_COST + 1) * min(n_rows, n_slots) + 1
    ceiling = 5 * gap  # above every pair weight, so every matrix entry is positive
    weight = (urgency[pair_row] + 1) * gap - pair_cost
    # One edge per (pair, slot of its provider).
    repeat = slots_of[pair_col]
    edge_row = np.repeat(pair_row, repeat)
    offset = np.arange(int(repeat.sum())) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    edge_col = np.repeat(first_slot[pair_col], repeat) + offset
    edge_val = np.repeat(ceiling - weight, repeat)
    # Each slot's private dummy row: leaving the slot empty weighs 0 (costs `ceiling`).
    dummy = np.arange(n_slots)
    matrix = csr_matrix(
        (
            np.concatenate([edge_val, np.full(n_slots, ceiling)]).astype(np.float64),
            (np.concatenate([edge_row, n_rows + dummy]), np.concatenate([edge_col, dummy])),
        ),
        shape=(n_rows + n_slots, n_slots),
    )
    matched_rows, matched_slots = min_weight_full_bipartite_matching(matrix)
    slot_owner = np.repeat(np.arange(len(free)), slots_of)
    return {
        row: int(slot_owner[slot])
        for row, slot in zip(matched_rows.tolist(), matched_slots.tolist(), strict=True)
        if row < n_rows
    }
