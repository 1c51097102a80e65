"""Advogato-style capacity-constrained flow from the seeds (Levien's trust metric).

Each member ``v`` within ``policy.max_depth`` of the seeds becomes ``v_in -> v_out`` with
capacity ``capacity(depth) - 1`` plus a unit edge ``v_in -> sink``; a vouch ``u -> w``
becomes ``u_out -> w_in`` with unbounded capacity. A member is accepted when its unit edge
to the sink carries flow. Whatever an attacker at depth ``d`` admits must pass through
that member's node, so it is bounded by ``capacity(d)``, however many fakes it creates.
Pods get capacity 1: they can be accepted but pass nothing on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from trust_graph.model import Policy
from trust_graph.snapshot import POD_CODE, Snapshot, bfs_levels


@dataclass(frozen=True, eq=False)
class FlowResult:
    depth: np.ndarray  # int32, -1 when not reached within max_depth
    capacity: np.ndarray  # int64, 0 outside the flow network
    accepted: np.ndarray  # bool
    edge_flow: np.ndarray  # int64 flow on each snapshot edge (aligned with snapshot.src)
    value: int
    # Residual reachability, kept so a new edge can be judged without recomputing: an edge
    # u->w can only open an augmenting path if u_out is reachable from the source and w_in
    # can still reach the sink. Supersets stay sound, so edge removals keep them as they are.
    from_source_out: np.ndarray  # bool per member: u_out reachable from the source
    to_sink_in: np.ndarray  # bool per member: w_in reaches the sink

    def moved(self, pos: int) -> FlowResult:
        """The same flow with an isolated member inserted at ``pos``."""
        return FlowResult(
            np.insert(self.depth, pos, -1),
            np.insert(self.capacity, pos, 0),
            np.insert(self.accepted, pos, False),
            self.edge_flow,
            self.value,
            np.insert(self.from_source_out, pos, False),
            np.insert(self.to_sink_in, pos, False),
        )

    def with_edge_flow(self, edge_flow: np.ndarray) -> FlowResult:
        return FlowResult(
            self.depth,
            self.capacity,
            self.accepted,
            edge_flow,
            self.value,
            self.from_source_out,
            self.to_sink_in,
        )


def capacities(snap: Snapshot, policy: Policy, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    allowed = ~snap.excluded
    depth = bfs_levels(
        snap.indptr, snap.dst, seeds, allowed, snap.passable, max_depth=policy.max_depth
    )
    table = np.array([policy.capacity_at(d) for d in range(policy.max_depth + 1)], np.int64)
    cap = np.where(depth >= 0, table[np.clip(depth, 0, policy.max_depth)], 0)
    cap = np.where((snap.status == POD_CODE) & (cap > 0), 1, cap)
    return depth, cap


def advogato(snap: Snapshot, policy: Policy, seeds: np.ndarray) -> FlowResult:
    """Full recompute on the node-split network with scipy's Dinic (compiled)."""
    n = snap.n
    depth, cap = capacities(snap, policy, seeds)
    reached = np.flatnonzero(cap > 0)
    seeds = np.unique(seeds[cap[seeds] > 0]) if seeds.size else seeds
    source, sink = 2 * n, 2 * n + 1
    big = int(cap.sum()) + 1
    passing = cap > 1
    emask = passing[snap.src] & (cap[snap.dst] > 0)
    inner = reached[passing[reached]]
    rows = np.concatenate(
        [
            np.full(seeds.size, source),  # source -> seed_in
            reached,  # v_in -> sink
            inner,  # v_in -> v_out
            n + snap.src[emask].astype(np.int64),  # u_out -> w_in
        ]
    )
    cols = np.concatenate(
        [seeds, np.full(reached.size, sink), n + inner, snap.dst[emask].astype(np.int64)]
    )
    data = np.concatenate(
        [
            cap[seeds],
            np.ones(reached.size, np.int64),
            cap[inner] - 1,
            np.full(int(emask.sum()), big, np.int64),
        ]
    ).astype(np.int32)
    graph = csr_array((data, (rows, cols)), shape=(2 * n + 2, 2 * n + 2))
    graph.sum_duplicates()
    graph.sort_indices()
    res = maximum_flow(graph, source, sink, method="dinic")
    flow = res.flow.tocsr()
    flow.sort_indices()
    accepted = np.zeros(n, dtype=bool)
    into_sink = _entries(flow, reached, np.full(reached.size, sink))
    accepted[reached[into_sink > 0]] = True
    edge_flow = np.zeros(snap.m, dtype=np.int64)
    sel = np.flatnonzero(emask)
    edge_flow[sel] = _entries(flow, n + snap.src[sel].astype(np.int64), snap.dst[sel])
    residual = (graph - flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    ahead = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    behind = breadth_first_order(residual.T.tocsr(), sink, directed=True, return_predecessors=False)
    from_source = np.zeros(2 * n + 2, dtype=bool)
    from_source[ahead] = True
    to_sink = np.zeros(2 * n + 2, dtype=bool)
    to_sink[behind] = True
    return FlowResult(
        depth, cap, accepted, edge_flow, int(res.flow_value), from_source[n : 2 * n], to_sink[:n]
    )


def _entries(matrix: csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values at (rows[i], cols[i]) of a CSR matrix with sorted indices (0 when absent)."""
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    out = np.zeros(rows.size, dtype=np.int64)
    starts, ends = indptr[rows], indptr[rows + 1]
    # rows are few-entry in this network, so a vectorised probe per row segment is cheap
    key_rows = np.repeat(np.arange(matrix.shape[0]), np.diff(indptr))
    keys = key_rows.astype(np.int64) * matrix.shape[1] + indices
    want = rows.astype(np.int64) * matrix.shape[1] + cols
    pos = np.searchsorted(keys, want)
    pos = np.minimum(pos, keys.size - 1)
    hit = (keys[pos] == want) & (pos >= starts) & (pos < ends)
    out[hit] = data[pos[hit]]
    return out
