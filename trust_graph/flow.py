"""The trust flows: the core rule (default) and the Advogato schedule (for experts).

The core rule is described and proved in docs/trust.md. The Advogato schedule:

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

from trust_graph.liveflow import LiveFlow
from trust_graph.model import Policy
from trust_graph.snapshot import POD_CODE, Snapshot, bfs_levels, positions


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
    core: CoreParts | None = None  # the parts of the core rule, when it is in force

    def moved(self, pos: int) -> FlowResult:
        """The same flow with an isolated member inserted at ``pos`` (Advogato schedule only:
        the core rule's flows are recomputed)."""
        return FlowResult(
            np.insert(self.depth, pos, -1),
            np.insert(self.capacity, pos, 0),
            np.insert(self.accepted, pos, False),
            self.edge_flow,
            self.value,
            np.insert(self.from_source_out, pos, False),
            np.insert(self.to_sink_in, pos, False),
            None,
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
            self.core,
        )


@dataclass(frozen=True, eq=False)
class CoreParts:
    """What the core rule decided, kept for explanations (see docs/trust.md)."""

    core: np.ndarray  # bool: seed, vouched by a seed, or vouched by enough core members
    core_vouchers: np.ndarray  # int64: vouches from passable core members
    by_core: np.ndarray  # bool: core, or reached by the core flow
    by_flat: np.ndarray  # bool: reached by the safety-net flow
    passed: np.ndarray  # int64: units each member passes on in the core flow
    live: tuple[LiveFlow, LiveFlow] | None = None  # both flows, patchable (core, net)


def compute(snap: Snapshot, policy: Policy, seeds: np.ndarray) -> FlowResult:
    """The flow the policy asks for: the core rule, or the expert Advogato schedule."""
    return advogato(snap, policy, seeds) if policy.scheduled else core_rule(snap, policy, seeds)


def core_closure(snap: Snapshot, seeds: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
    """The core: seeds, members a seed vouches for, then anyone ``need`` core members vouch for.

    Grown a wave at a time; each edge is counted once, when its author joins. Only
    passable members (not excluded, not on probation) count as vouchers.
    """
    core, counts, _ = core_waves(snap, seeds, need)
    return core, counts


def core_waves(
    snap: Snapshot, seeds: np.ndarray, need: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`core_closure` with the wave in which each core member joined (seeds 0, their
    vouchees 1): every later member has ``need`` core vouchers from earlier waves, which is
    what lets a revocation be checked without growing the core again."""
    n = snap.n
    core = np.zeros(n, dtype=bool)
    counts = np.zeros(n, dtype=np.int64)
    wave = np.full(n, -1, dtype=np.int64)
    if not seeds.size:
        return core, counts, wave
    core[seeds] = True
    wave[seeds] = 0
    first = snap.dst[positions(snap.indptr, seeds[snap.passable[seeds]])]
    first = first[~snap.excluded[first] & ~core[first]]
    core[first] = True
    wave[first] = 1
    givers = np.flatnonzero(core & snap.passable)
    step = 1
    while givers.size:
        step += 1
        targets = snap.dst[positions(snap.indptr, givers)]
        counts += np.bincount(targets, minlength=n)
        new = np.unique(targets[(counts[targets] >= need) & ~core[targets]])
        new = new[~snap.excluded[new]]
        core[new] = True
        wave[new] = step
        givers = new[snap.passable[new]]
    return core, counts, wave


def core_rule(snap: Snapshot, policy: Policy, seeds: np.ndarray) -> FlowResult:
    """Accepted = (core or reached by the core flow) and reached by the safety-net flow.

    Core flow: every core member keeps its own unit and supplies ``fakes_per_member``
    more; every other reached member keeps one unit and passes at most
    ``fakes_per_member`` on. Safety net: a plain flow from the seeds (unbounded) in
    which every other member has ``flat_capacity``. No depth limit: the bound does not
    need one (docs/trust.md).

    Both are solved as "sources and the rest": a source (a core member; in the net, a
    seed or a member a seed vouches for, whose supply from the seeds is unbounded) is
    accepted outright and never needs flow from anyone else, so the edges into sources
    are left out. Same maximum, far smaller network. Where a maximum flow could keep its
    units with different members, the members nearer the seeds (then lower numbered) are
    the ones reached (:mod:`trust_graph.liveflow`), so the answer does not depend on which
    maximum flow the solver finds.
    """
    depth = bfs_levels(snap.indptr, snap.dst, seeds, ~snap.excluded, snap.passable)
    core, counts = core_closure(snap, seeds, policy.core_vouches)
    return outcome(snap, policy, depth, core, counts, *solve_flows(snap, policy, depth, core))


def roles(
    snap: Snapshot, policy: Policy, depth: np.ndarray, core: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(capacity, source, supply) of every member in the core flow and in the safety net."""
    reached = depth >= 0
    pod = snap.status == POD_CODE
    cap = np.where(reached, policy.member_capacity, 0)
    cap = np.where(pod & reached, 1, cap)
    src = core & reached
    flat = np.where(reached, policy.flat_capacity, 0)
    flat = np.where(pod & reached, 1, flat)
    near = reached & (depth <= 1)
    return (cap, src, np.where(src, cap - 1, 0)), (flat, near, np.where(depth == 1, flat - 1, 0))


def solve_flows(
    snap: Snapshot, policy: Policy, depth: np.ndarray, core: np.ndarray
) -> tuple[LiveFlow, LiveFlow]:
    """Both flows from scratch (scipy's Dinic), handed over as patchable flows."""
    first, second = roles(snap, policy, depth, core)
    rank = ranks(depth).tolist()
    return _source_flow(snap, *first, rank), _source_flow(snap, *second, rank[:])


def ranks(depth: np.ndarray) -> np.ndarray:
    """Who comes first where capacity is contested: nearer the seeds, then lower number."""
    n = depth.size
    return np.where(depth >= 0, depth, n).astype(np.int64) * n + np.arange(n)


def outcome(
    snap: Snapshot,
    policy: Policy,
    depth: np.ndarray,
    core: np.ndarray,
    counts: np.ndarray,
    core_flow: LiveFlow,
    net: LiveFlow,
) -> FlowResult:
    """Read who is accepted off two maximum flows (any two: the answer is the same)."""
    by_core = _reached_by(core_flow, snap.n)
    by_flat = _reached_by(net, snap.n)
    cap = np.array(core_flow.cap, dtype=np.int64)
    passed = np.array(
        [
            u if s else p
            for u, s, p in zip(core_flow.used, core_flow.source, core_flow.passed, strict=True)
        ],
        dtype=np.int64,
    )
    value = int(by_core.sum())
    everywhere = np.ones(snap.n, dtype=bool)  # residual sets unused by the core rule: supersets
    parts = CoreParts(core & (depth >= 0), counts, by_core, by_flat, passed, (core_flow, net))
    edge_flow = np.zeros(0, dtype=np.int64)  # the core rule keeps its flow in ``live``
    return FlowResult(
        depth, cap, by_core & by_flat, edge_flow, value, everywhere, everywhere, parts
    )


def _reached_by(flow: LiveFlow, n: int) -> np.ndarray:
    got = np.array(flow.source, dtype=bool) & (np.array(flow.cap) > 0)
    rest = np.array(flow.cap) > 0
    rest &= ~got
    out = np.zeros(n, dtype=bool)
    unsure = np.zeros(n, dtype=bool)
    if flow.unreached():
        unsure[np.fromiter(flow.unreached(), dtype=np.int64)] = True
    out[rest & ~unsure] = True
    return got | out


def _source_flow(
    snap: Snapshot, cap: np.ndarray, is_source: np.ndarray, supply: np.ndarray, rank: list[int]
) -> LiveFlow:
    """Max flow: source -> s_out (``supply``) for sources; every other reached member
    ``v_in -> sink`` (1) and ``v_in -> v_out`` (cap - 1); vouches unbounded.

    Returns the flow as a :class:`LiveFlow` over the snapshot's adjacency lists, its
    units moved to the members ranked first (:meth:`LiveFlow.settle`).
    """
    n = snap.n
    source, sink = 2 * n, 2 * n + 1
    rest = (cap > 0) & ~is_source
    fed = np.flatnonzero(is_source & (supply > 0))
    inner = np.flatnonzero(rest & (cap > 1))
    members = np.flatnonzero(rest)
    gives = (is_source & (supply > 0)) | (rest & (cap > 1))
    emask = gives[snap.src] & rest[snap.dst]
    big = min(int(cap.sum()) + 1, 2**30)
    live = LiveFlow(snap.adj, cap.tolist(), is_source.tolist(), supply.tolist(), rank)
    if not fed.size or not members.size:
        return live
    rows = np.concatenate(
        [np.full(fed.size, source), members, inner, n + snap.src[emask].astype(np.int64)]
    )
    cols = np.concatenate(
        [n + fed, np.full(members.size, sink), n + inner, snap.dst[emask].astype(np.int64)]
    )
    data = np.concatenate(
        [
            np.minimum(supply[fed], big),
            np.ones(members.size, np.int64),
            np.minimum(cap[inner] - 1, big),
            np.full(int(emask.sum()), big, np.int64),
        ]
    ).astype(np.int32)
    graph = csr_array((data, (rows, cols)), shape=(2 * n + 2, 2 * n + 2))
    graph.sum_duplicates()
    graph.sort_indices()
    res = maximum_flow(graph, source, sink, method="dinic")
    flow = res.flow.tocsr()
    flow.sort_indices()
    sunk = members[_entries(flow, members, np.full(members.size, sink)) > 0]
    through = _entries(flow, inner, n + inner)
    drawn = _entries(flow, np.full(fed.size, source), n + fed)
    sel = np.flatnonzero(emask)
    on_edge = _entries(flow, n + snap.src[sel].astype(np.int64), snap.dst[sel])
    pos = on_edge > 0
    live.load(
        zip(
            snap.src[sel][pos].tolist(),
            snap.dst[sel][pos].tolist(),
            on_edge[pos].tolist(),
            strict=True,
        ),
        sunk.tolist(),
        zip(inner.tolist(), through.tolist(), strict=True),
        zip(fed.tolist(), drawn.tolist(), strict=True),
    )
    live.settle()
    return live


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
