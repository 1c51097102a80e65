"""Exact min-cost assignment of requests to provider slots, fast on large sparse inputs.

The core is scipy's LAPJVsp (``min_weight_full_bipartite_matching``) over eligible pairs
only, each provider split into one column per free slot, each slot with a private dummy
row so that "leave the slot empty" is always possible.

At 10,000 requests the eligible pairs run into the millions, and LAPJVsp slows down with
every edge. Most of those edges are far down a request's ranking and never chosen, so we
solve on each request's best few pairs first and then *prove* the result optimal for all
pairs: Bellman-Ford on the residual flow network of the small solution yields node
potentials, and if no left-out pair has a negative reduced cost under them, there is no
negative cycle in the full residual network either, which is the optimality condition of
min-cost flow. Violating pairs are added and the small problem solved again; after a few
rounds without a proof we solve the full problem. Either way the answer is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from coordinator.routing.models import SolveStats


@dataclass(frozen=True)
class Pairs:
    """Eligible (request row, provider column) pairs, each request's pairs best first."""

    row: np.ndarray
    col: np.ndarray
    cost: np.ndarray  # rank cost, 0..max_cost
    rank: np.ndarray  # position within its request's ranking (0 = best)


def solve(
    pairs: Pairs,
    urgency: np.ndarray,
    free: np.ndarray,
    max_cost: int,
    top_k: int = 8,
    max_rounds: int = 6,
) -> tuple[dict[int, int], SolveStats]:
    """Rows -> provider columns maximizing urgency tiers, then coverage, then -cost."""
    n_rows = len(urgency)
    used_cols = np.unique(pairs.col)
    n_slots = int(free[used_cols].sum())
    if len(pairs.row) == 0 or n_slots == 0:
        return {}, SolveStats(0, 0, len(pairs.row), True)
    gap = (max_cost + 1) * min(n_rows, n_slots) + 1
    # Minimized pair cost: one more request at a higher urgency tier outweighs any saving.
    signed = pairs.cost - (urgency[pairs.row] + 1) * gap

    subset = pairs.rank < top_k
    for rounds in range(1, max_rounds + 1):
        picked = np.flatnonzero(subset)
        chosen = _lap(pairs.row[picked], pairs.col[picked], signed[picked], n_rows, free, gap)
        violations = _pricing(pairs, signed, subset, chosen, n_rows, len(free), free)
        if violations is not None and not violations.any():
            return chosen, SolveStats(rounds, len(picked), len(pairs.row), True)
        if violations is None:
            break
        subset |= violations
    chosen = _lap(pairs.row, pairs.col, signed, n_rows, free, gap)
    return chosen, SolveStats(max_rounds, len(pairs.row), len(pairs.row), False)


def _lap(
    row: np.ndarray, col: np.ndarray, signed: np.ndarray, n_rows: int, free: np.ndarray, gap: int
) -> dict[int, int]:
    """Min-cost assignment over the given pairs; returns row -> provider column."""
    slots_of = np.zeros(len(free), dtype=np.int64)
    present = np.unique(col)
    slots_of[present] = free[present]
    first_slot = np.concatenate([[0], np.cumsum(slots_of)[:-1]])
    n_slots = int(slots_of.sum())
    ceiling = 5 * gap  # above |signed| everywhere, so every entry is positive (0 = no edge)
    repeat = slots_of[col]
    edge_row = np.repeat(row, repeat)
    offset = np.arange(int(repeat.sum())) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    edge_col = np.repeat(first_slot[col], repeat) + offset
    edge_val = np.repeat(ceiling + signed, repeat)
    dummy = np.arange(n_slots)
    matrix = csr_matrix(
        (
            np.concatenate([edge_val, np.full(n_slots, ceiling)]).astype(np.float64),
            (np.concatenate([edge_row, n_rows + dummy]), np.concatenate([edge_col, dummy])),
        ),
        shape=(n_rows + n_slots, n_slots),
    )
    matched_rows, matched_slots = min_weight_full_bipartite_matching(matrix)
    owner = np.repeat(np.arange(len(free)), slots_of)
    return {
        r: int(owner[s])
        for r, s in zip(matched_rows.tolist(), matched_slots.tolist(), strict=True)
        if r < n_rows
    }


def _pricing(
    pairs: Pairs,
    signed: np.ndarray,
    subset: np.ndarray,
    chosen: dict[int, int],
    n_rows: int,
    n_cols: int,
    free: np.ndarray,
) -> np.ndarray | None:
    """Pairs outside ``subset`` with negative reduced cost; None if no potentials were found."""
    source, sink, req0, prov0 = 0, 1, 2, 2 + n_rows
    n_nodes = prov0 + n_cols
    assigned_rows = np.fromiter(chosen.keys(), dtype=np.int64, count=len(chosen))
    assigned_cols = np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen))
    is_assigned = np.zeros(n_rows, dtype=bool)
    is_assigned[assigned_rows] = True
    used = np.bincount(assigned_cols, minlength=n_cols)

    picked = np.flatnonzero(subset)
    p_row, p_col, p_w = pairs.row[picked], pairs.col[picked], signed[picked]
    in_solution = np.zeros(len(picked), dtype=bool)
    if len(chosen):
        lookup = np.full(n_rows, -1, dtype=np.int64)
        lookup[assigned_rows] = assigned_cols
        in_solution = lookup[p_row] == p_col
    rows_all = np.arange(n_rows)
    cols_all = np.arange(n_cols)
    spare, busy = cols_all[used < free], cols_all[used > 0]
    src = [
        np.full((~is_assigned).sum(), source), req0 + assigned_rows,  # s->r free, r->s taken
        req0 + p_row[~in_solution], prov0 + p_col[in_solution],  # forward / backward pairs
        prov0 + spare, np.full(len(busy), sink),  # p->t spare, t->p busy
        np.array([sink, source]),  # t->s, s->t (both cost 0)
    ]  # fmt: skip
    dst = [
        req0 + rows_all[~is_assigned], np.full(len(assigned_rows), source),
        prov0 + p_col[~in_solution], req0 + p_row[in_solution],
        np.full(len(spare), sink), prov0 + busy,
        np.array([source, sink]),
    ]  # fmt: skip
    weight = [
        np.zeros((~is_assigned).sum(), dtype=np.int64), np.zeros(len(assigned_rows), np.int64),
        p_w[~in_solution], -p_w[in_solution],
        np.zeros(len(spare), np.int64), np.zeros(len(busy), np.int64),
        np.zeros(2, np.int64),
    ]  # fmt: skip
    potential = _bellman_ford(
        n_nodes, np.concatenate(src), np.concatenate(dst), np.concatenate(weight)
    )
    if potential is None:
        return None
    outside = ~subset
    reduced = (
        signed + potential[req0 + pairs.row] - potential[prov0 + pairs.col]
    )  # r -> p is residual for every pair outside the subset (none of them is chosen)
    return outside & (reduced < 0)


def _bellman_ford(
    n_nodes: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, max_iter: int = 5000
) -> np.ndarray | None:
    """Shortest distances from a virtual source joined to every node at cost 0.

    Returns None on a negative cycle or when ``max_iter`` passes do not converge.
    """
    order = np.argsort(dst, kind="stable")
    src, dst, weight = src[order], dst[order], weight[order]
    targets, starts = np.unique(dst, return_index=True)
    distance = np.zeros(n_nodes, dtype=np.int64)
    for _ in range(min(max_iter, n_nodes)):
        best = np.minimum.reduceat(distance[src] + weight, starts)
        improved = best < distance[targets]
        if not improved.any():
            return distance
        distance[targets[improved]] = best[improved]
    return None
