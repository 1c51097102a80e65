"""The core rule's decision kept up to date vouch by vouch, equal to a fresh computation.

A new vouch or a revocation changes little: the distances from the seeds near the edge,
perhaps a few core members, and a few units of each flow. :class:`LiveCore` patches each
layer in place and falls back to recomputing a layer from scratch only where a local
argument does not settle it (a revocation that may lengthen distances, or one that takes
away a core member's grounding). Every layer is a function of the graph alone (who is
reached by the flows does not depend on which maximum flow is held,
:mod:`trust_graph.liveflow`), so the patched answer is the fresh one whatever the order
of the updates.
"""

from __future__ import annotations

import numpy as np

from trust_graph.flow import FlowResult, core_waves, outcome, solve_flows
from trust_graph.model import Policy
from trust_graph.snapshot import POD_CODE, Snapshot, bfs_levels


class LiveCore:
    """Distances, core and both flows for one (policy, seeds), patched per update."""

    def __init__(self, snap: Snapshot, policy: Policy, seeds: np.ndarray) -> None:
        self.policy, self.seeds = policy, seeds
        self.snap = snap
        self.is_seed = np.zeros(snap.n, dtype=bool)
        self.is_seed[seeds] = True
        self.depth = bfs_levels(snap.indptr, snap.dst, seeds, ~snap.excluded, snap.passable)
        self.core, self.counts, self.wave = core_waves(snap, seeds, policy.core_vouches)
        self.next_wave = int(self.wave.max(initial=0)) + 1
        self.core_flow, self.net = solve_flows(snap, policy, self.depth, self.core)
        self.result: FlowResult = outcome(
            snap, policy, self.depth, self.core, self.counts, self.core_flow, self.net
        )
        self.fallbacks = 0  # layers recomputed from scratch (kept for the benchmark)

    # -- updates -------------------------------------------------------------------------

    def vouched(self, snap: Snapshot, u: int, v: int) -> None:
        """The edge u -> v is new in ``snap``."""
        self._adopt(snap)
        for flow in (self.core_flow, self.net):
            flow.edge_added(u, v)
        changed = {u, v}
        changed |= self._closer(u, v)
        changed |= self._core_grows(u, v)
        self._apply(changed)

    def revoked(self, snap: Snapshot, u: int, v: int) -> None:
        """The edge u -> v is gone from ``snap``."""
        for flow in (self.core_flow, self.net):
            flow.drop_edge(u, v)
        self._adopt(snap)
        changed = {u, v}
        changed |= self._farther(u, v)
        changed |= self._core_shrinks(u, v)
        self._apply(changed)

    def adopt(self, snap: Snapshot) -> None:
        """Same edges, new snapshot (a vouch's kind or time changed)."""
        self._adopt(snap)

    def _adopt(self, snap: Snapshot) -> None:
        self.snap = snap
        for flow in (self.core_flow, self.net):
            flow.adj = snap.adj

    # -- distances -----------------------------------------------------------------------

    def _closer(self, u: int, v: int) -> set[int]:
        """A new edge can only shorten distances: spread the decrease from ``v``."""
        snap, depth = self.snap, self.depth
        du = int(depth[u])
        if du < 0 or not snap.passable[u] or snap.excluded[v]:
            return set()
        if 0 <= depth[v] <= du + 1:
            return set()
        depth[v] = du + 1
        out = {v}
        frontier = [v]
        adj, passable, excluded = snap.adj, snap.passable_list, snap.excluded
        while frontier:
            new: list[int] = []
            for x in frontier:
                if not passable[x]:
                    continue
                d = int(depth[x]) + 1
                for y in adj.oidx[adj.optr[x] : adj.optr[x + 1]]:
                    if excluded[y] or 0 <= depth[y] <= d:
                        continue
                    depth[y] = d
                    out.add(y)
                    new.append(y)
            frontier = new
        return out

    def _farther(self, u: int, v: int) -> set[int]:
        """A removed edge lengthens distances only if it was ``v``'s last shortest way in;
        then the distances are recomputed (and compared, to know whose role changed)."""
        snap, depth = self.snap, self.depth
        du, dv = int(depth[u]), int(depth[v])
        if du < 0 or not snap.passable[u] or dv != du + 1:
            return set()
        preds = snap.rindices[snap.rindptr[v] : snap.rindptr[v + 1]]
        if bool(((depth[preds] == du) & snap.passable[preds]).any()):
            return set()
        self.fallbacks += 1
        fresh = bfs_levels(snap.indptr, snap.dst, self.seeds, ~snap.excluded, snap.passable)
        diff = np.flatnonzero(fresh != depth)
        self.depth = fresh
        return set(diff.tolist())

    # -- the core ------------------------------------------------------------------------

    def _core_grows(self, u: int, v: int) -> set[int]:
        snap, core = self.snap, self.core
        if not (core[u] and snap.passable[u]):
            return set()
        self.counts[v] += 1
        need = self.policy.core_vouches
        if core[v] or snap.excluded[v]:
            return set()
        if not (self.is_seed[u] or self.counts[v] >= need):
            return set()
        out: set[int] = set()
        frontier = [v]
        core[v] = True
        self.wave[v] = 1 if self.is_seed[u] else self._new_wave()
        adj = snap.adj
        while frontier:
            new: list[int] = []
            for x in frontier:
                out.add(x)
                if not snap.passable[x]:
                    continue
                for y in adj.oidx[adj.optr[x] : adj.optr[x + 1]]:
                    self.counts[y] += 1
                    if not core[y] and not snap.excluded[y] and self.counts[y] >= need:
                        core[y] = True
                        self.wave[y] = self._new_wave()
                        new.append(y)
            frontier = new
        return out

    def _new_wave(self) -> int:
        self.next_wave += 1
        return self.next_wave

    def _core_shrinks(self, u: int, v: int) -> set[int]:
        """Keep the core if ``v`` is still grounded by vouchers from earlier waves (then
        every core member still has its derivation); otherwise grow the core afresh."""
        snap, core = self.snap, self.core
        if not (core[u] and snap.passable[u]):
            return set()
        self.counts[v] -= 1
        if not core[v] or self.is_seed[v]:
            return set()
        preds = snap.rindices[snap.rindptr[v] : snap.rindptr[v + 1]]
        giving = preds[core[preds] & snap.passable[preds]]
        if bool(self.is_seed[giving].any()):
            return set()
        if int((self.wave[giving] < self.wave[v]).sum()) >= self.policy.core_vouches:
            return set()
        self.fallbacks += 1
        fresh, counts, wave = core_waves(snap, self.seeds, self.policy.core_vouches)
        diff = np.flatnonzero(fresh != core)
        self.core, self.counts, self.wave = fresh, counts, wave
        self.next_wave = max(self.next_wave, int(wave.max(initial=0))) + 1
        return set(diff.tolist())

    # -- flows and the result ------------------------------------------------------------

    def _apply(self, changed: set[int]) -> None:
        """New roles for the members whose distance or core status changed, then repair
        both flows and patch the result arrays where something moved."""
        snap, policy = self.snap, self.policy
        members = np.array(sorted(changed), dtype=np.int64)
        pod = snap.status[members] == POD_CODE
        depth = self.depth[members]
        reached = depth >= 0
        core = self.core[members] & reached
        cap = np.where(reached, np.where(pod, 1, policy.member_capacity), 0)
        flat = np.where(reached, np.where(pod, 1, policy.flat_capacity), 0)
        near = reached & (depth <= 1)
        n = snap.n
        rank = (np.where(reached, depth, n).astype(np.int64) * n + members).tolist()
        for i, v in enumerate(members.tolist()):
            self.core_flow.set_rank(v, rank[i])
            self.net.set_rank(v, rank[i])
            c, f = int(cap[i]), int(flat[i])
            self.core_flow.set_role(v, c, bool(core[i]), c - 1 if core[i] else 0)
            self.net.set_role(v, f, bool(near[i]), f - 1 if depth[i] == 1 else 0)
        before = (self.core_flow.settled, self.net.settled)
        after = (self.core_flow.unreached(), self.net.unreached())
        moved = set(changed)
        for old, new in zip(before, after, strict=True):
            moved |= old ^ new
        moved |= self.core_flow.touched
        self.core_flow.touched = set()
        self.net.touched = set()
        self._patch(moved)

    def _patch(self, moved: set[int]) -> None:
        res = self.result
        parts = res.core
        assert parts is not None
        idx = np.array(sorted(moved), dtype=np.int64)
        cf, net = self.core_flow, self.net
        by_core = parts.by_core.copy()
        by_flat = parts.by_flat.copy()
        passed = parts.passed.copy()
        cap = res.capacity.copy()
        unsure_c, unsure_n = cf.unreached(), net.unreached()
        for v in idx.tolist():
            by_core[v] = cf.cap[v] > 0 and (cf.source[v] or v not in unsure_c)
            by_flat[v] = net.cap[v] > 0 and (net.source[v] or v not in unsure_n)
            passed[v] = cf.used[v] if cf.source[v] else cf.passed[v]
            cap[v] = cf.cap[v]
        core = self.core & (self.depth >= 0)
        parts = type(parts)(core, self.counts.copy(), by_core, by_flat, passed, (cf, net))
        self.result = FlowResult(
            self.depth.copy(),
            cap,
            by_core & by_flat,
            res.edge_flow,
            int(by_core.sum()),
            res.from_source_out,
            res.to_sink_in,
            parts,
        )
