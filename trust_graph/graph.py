"""TrustGraph: the vouching graph, its vetting decisions and their explanations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import networkx as nx
import numpy as np

from trust_graph import snapshot as snaps
from trust_graph.explain import accepted_reason, refusal_reason
from trust_graph.flow import FlowResult, compute
from trust_graph.live import LiveCore
from trust_graph.model import (
    EDGE_CODES,
    EXCLUDED_STATUSES,
    KIND_CODES,
    STATUS_CODES,
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
from trust_graph.paths import DisjointResult, disjoint_paths, nearest_source_path, shortest_path
from trust_graph.policy import (
    ORG_CODE,
    Acceptance,
    literal_fixpoint,
    patch_literal,
    seed_numbers,
)
from trust_graph.snapshot import Snapshot, bfs_levels

CUT_LIMIT = 16  # beyond this many independent paths a "bottleneck" explains nothing

_Key = tuple[Policy, tuple[str, ...]]


@dataclass
class UpdateStats:
    """How mutations were absorbed: patched in place, or left for a full flow recompute."""

    incremental: int = 0
    flow_recomputes: int = 0
    invalidations: int = 0
    last: dict[str, str] = field(default_factory=dict)
    literal_reruns: int = 0  # literal rules re-run in full after patching could not settle


@dataclass
class _Entry:
    """Cached state for one (policy, seeds): the flow outlives most mutations, the rest not."""

    seeds: np.ndarray
    flow: FlowResult | None
    acc: Acceptance | None = None
    live: LiveCore | None = None  # the core rule's layers, patched by vouches and revocations
    edits: list[tuple[int, int, int, int]] | None = None  # since ``acc``: (u, v, old, new)


class TrustGraph:
    """The vouch graph: edge ``a -> b`` means ``a`` vouches for (or is a reference for) ``b``.

    The array snapshot is the working copy; :attr:`graph` is the networkx model the rest
    of the code reads, kept in step with every mutation made through this class (treat it
    as read-only). Acceptance per (policy, seeds) is cached and patched by mutations that
    cannot change the flow; the others mark it for a full recompute on the next query.
    """

    def __init__(self) -> None:
        self._snap_cur: Snapshot | None = snaps.empty()
        self._g: nx.DiGraph | None = nx.DiGraph()
        self._cache: dict[_Key, _Entry] = {}
        self._reach_cache: dict[tuple[str, ...], np.ndarray] = {}
        self._reach_snap: Snapshot | None = None
        self.stats = UpdateStats()

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> TrustGraph:
        tg = cls()
        tg._snap = snap
        tg._g = None  # built on first use: loading 100k members must not pay for networkx
        return tg

    @property
    def _snap(self) -> Snapshot:
        if self._snap_cur is None:  # deferred changes: rebuild once, on the next read
            assert self._g is not None
            self._snap_cur = Snapshot.from_networkx(self._g)
        return self._snap_cur

    @_snap.setter
    def _snap(self, value: Snapshot) -> None:
        self._snap_cur = value

    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    def _deferred(self) -> bool:
        """Whether a change can go to the model alone, the snapshot rebuilt on next read.

        True while no flow is cached: then patching arrays per change (O(n + m) each)
        buys nothing, and loading a network member by member stays linear.
        """
        if self._g is None or any(e.flow is not None for e in self._cache.values()):
            return False
        self._snap_cur = None
        self._cache = {}
        return True

    @property
    def graph(self) -> nx.DiGraph:
        if self._g is None:
            self._g = self._snap.to_networkx()
        return self._g

    # -- members -----------------------------------------------------------------------

    def __contains__(self, member: object) -> bool:
        if self._snap_cur is None:
            return member in self._g  # type: ignore[operator]
        return member in self._snap_cur.index

    def __len__(self) -> int:
        return len(self._g) if self._snap_cur is None else self._snap_cur.n  # type: ignore[arg-type]

    def _require(self, *names: str) -> None:
        for name in names:
            if name not in self:
                raise UnknownMember(name)

    def _num(self, member: str) -> int:
        try:
            return self._snap.index[member]
        except KeyError:
            raise UnknownMember(member) from None

    def kind(self, member: str) -> MemberKind:
        if self._snap_cur is None:
            self._require(member)
            return MemberKind(self._g.nodes[member]["kind"])  # type: ignore[union-attr]
        return KIND_CODES[int(self._snap.kind[self._num(member)])]

    def status(self, member: str) -> MemberStatus:
        if self._snap_cur is None:
            self._require(member)
            return MemberStatus(self._g.nodes[member]["status"])  # type: ignore[union-attr]
        return STATUS_CODES[int(self._snap.status[self._num(member)])]

    def add_member(
        self, member: str, kind: MemberKind, status: MemberStatus = MemberStatus.ACTIVE
    ) -> None:
        if not isinstance(member, str) or not member:
            raise ValueError("member ids are non-empty strings")
        if member in self:
            raise ValueError(f"member already present: {member!r}")
        kind, status = MemberKind(kind), MemberStatus(status)
        if self._deferred():
            self._g.add_node(member, kind=kind, status=status)  # type: ignore[union-attr]
            self._note("add_member", mode="deferred")
            return
        self._snap, pos = snaps.with_member(self._snap, member, kind, status)
        if self._g is not None:
            self._g.add_node(member, kind=kind, status=status)
        for entry in self._cache.values():
            entry.acc = None
            entry.seeds = entry.seeds + (entry.seeds >= pos)
            if entry.flow is not None:
                entry.flow = entry.flow.moved(pos) if entry.live is None else None
            entry.live = None
        self._note("add_member", mode="incremental")

    def extend(
        self,
        members: Iterable[tuple[str, MemberKind, MemberStatus]] = (),
        edges: Iterable[tuple[str, str, EdgeKind, datetime | None]] = (),
    ) -> None:
        """Add many members and edges at once (one rebuild instead of one per change).

        For loading a network from storage or planting a test scenario; cached decisions
        are recomputed on the next query.
        """
        snap = self._snap
        new = [(m, MemberKind(k), MemberStatus(st)) for m, k, st in members]
        for m, _, _ in new:
            if m in snap.index:
                raise ValueError(f"member already present: {m!r}")
        ids = [*snap.ids, *(m for m, _, _ in new)]
        pos = {m: i for i, m in enumerate(ids)}
        if len(pos) != len(ids):
            raise ValueError("duplicate member ids")
        src, dst, kinds, ats = [], [], [], []
        for a, b, k, when in edges:
            for m in (a, b):
                if m not in pos:
                    raise UnknownMember(m)
            if a == b:
                raise ValueError("a member cannot vouch for themselves")
            src.append(pos[a])
            dst.append(pos[b])
            kinds.append(EDGE_CODES.index(EdgeKind(k)))
            ats.append(when.timestamp() if when is not None else np.nan)
        # new edges first: of duplicates the first wins, so a re-vouch updates kind and time
        self._snap = Snapshot.from_edges(
            ids,
            np.concatenate([np.array(src, dtype=np.int64), snap.src.astype(np.int64)]),
            np.concatenate([np.array(dst, dtype=np.int64), snap.dst.astype(np.int64)]),
            ekind=np.concatenate([np.array(kinds, dtype=np.int8), snap.ekind]),
            at=np.concatenate([np.array(ats, dtype=np.float64), snap.at]),
            kind={
                **{m: KIND_CODES[int(c)] for m, c in zip(snap.ids, snap.kind, strict=True)},
                **{m: k for m, k, _ in new},
            },
            status={
                **{m: STATUS_CODES[int(c)] for m, c in zip(snap.ids, snap.status, strict=True)},
                **{m: st for m, _, st in new},
            },
        )
        self._g = None
        self._invalidate("extend")

    def set_status(self, member: str, status: MemberStatus) -> None:
        status = MemberStatus(status)
        if self._deferred():
            self._require(member)
            self._g.nodes[member]["status"] = status  # type: ignore[union-attr]
            self._note("set_status", mode="deferred")
            return
        v = self._num(member)
        self._snap = snaps.with_status(self._snap, v, status)
        if self._g is not None:
            self._g.nodes[member]["status"] = status
        self._invalidate("set_status")

    # -- edges -------------------------------------------------------------------------

    def vouch(
        self,
        author: str,
        target: str,
        kind: EdgeKind = EdgeKind.VOUCH,
        at: datetime | None = None,
    ) -> None:
        self._require(author, target)
        if author == target:
            raise ValueError("a member cannot vouch for themselves")
        kind = EdgeKind(kind)
        if self._deferred():
            self._g.add_edge(author, target, kind=kind, at=at)  # type: ignore[union-attr]
            self._note("vouch", mode="deferred")
            return
        u, v = self._num(author), self._num(target)
        at_pos = self._snap.edge_position(u, v)
        existed = at_pos >= 0
        old = int(self._snap.ekind[at_pos]) if existed else -1
        self._snap, pos = snaps.with_edge(
            self._snap, u, v, kind, at.timestamp() if at is not None else np.nan
        )
        if self._g is not None:
            self._g.add_edge(author, target, kind=kind, at=at)
        for (policy, _), entry in self._cache.items():
            self._literal_edit(entry, (u, v, old, EDGE_CODES.index(kind)))
            flow = entry.flow
            if flow is None:
                continue
            if entry.live is not None:
                if existed:
                    entry.live.adopt(self._snap)
                else:
                    entry.live.vouched(self._snap, u, v)
                entry.flow = entry.live.result
                continue
            if existed:
                continue
            if self._flow_may_change_on_add(policy, flow, u, v):
                entry.flow = None
            else:
                entry.flow = flow.with_edge_flow(np.insert(flow.edge_flow, pos, 0))
        self._note("vouch", mode="incremental" if self._flows_kept() else "invalidated")

    def revoke(self, author: str, target: str) -> None:
        """Withdraw a vouch or reference; revoking one that does not exist does nothing."""
        self._require(author, target)
        if self._deferred():
            if self._g.has_edge(author, target):  # type: ignore[union-attr]
                self._g.remove_edge(author, target)  # type: ignore[union-attr]
            self._note("revoke", mode="deferred")
            return
        u, v = self._num(author), self._num(target)
        pos = self._snap.edge_position(u, v)
        if pos < 0:
            return
        old = int(self._snap.ekind[pos])
        self._snap = snaps.without_edge(self._snap, pos)
        if self._g is not None:
            self._g.remove_edge(author, target)
        for (policy, _), entry in self._cache.items():
            self._literal_edit(entry, (u, v, old, -1))
            flow = entry.flow
            if flow is None:
                continue
            if entry.live is not None:
                entry.live.revoked(self._snap, u, v)
                entry.flow = entry.live.result
                continue
            if flow.edge_flow[pos] > 0 or self._depth_may_change_on_remove(policy, flow, u, v):
                entry.flow = None
            else:
                entry.flow = flow.with_edge_flow(np.delete(flow.edge_flow, pos))
        self._note("revoke", mode="incremental" if self._flows_kept() else "invalidated")

    def remove_member(
        self, member: str, seeds: Iterable[str], code_of_conduct: bool = True
    ) -> RemovalImpact:
        """Mark a member removed; a code-of-conduct removal also drops every edge they authored.

        The member stays in the graph with status ``removed`` so the record (and any later
        attempt to re-add them) is explicit.
        """
        v = self._num(member)
        seed_key = self._seed_key(seeds)
        before = self._reachable(seed_key)
        dropped = 0
        if code_of_conduct:
            drop = self._snap.src == v
            dropped = int(drop.sum())
            self._snap = snaps.without_edges(self._snap, drop)
            if self._g is not None:
                self._g.remove_edges_from(list(self._g.out_edges(member)))
        self._snap = snaps.with_status(self._snap, v, MemberStatus.REMOVED)
        if self._g is not None:
            self._g.nodes[member]["status"] = MemberStatus.REMOVED
        self._invalidate("remove_member")
        after = self._reachable(seed_key)
        lost = np.flatnonzero(before & ~after)
        ids = self._snap.ids
        orphaned = tuple(ids[i] for i in lost.tolist() if i != v)
        return RemovalImpact(member, dropped, orphaned)

    # -- cache maintenance -------------------------------------------------------------

    @staticmethod
    def _literal_edit(entry: _Entry, edit: tuple[int, int, int, int]) -> None:
        """Note a vouch change for the literal rules, patched lazily on the next query
        (core rule; the expert schedule re-runs them)."""
        if entry.live is None or entry.acc is None:
            entry.acc = None
            return
        entry.edits = [*(entry.edits or []), edit]

    def _note(self, op: str, *, mode: str) -> None:
        """Count how a change was absorbed: incremental, deferred (nothing cached yet), or
        invalidated (the flow is recomputed on the next query)."""
        if mode == "invalidated":
            self.stats.invalidations += 1
        else:
            self.stats.incremental += 1
        self.stats.last = {"op": op, "mode": mode}

    def _invalidate(self, op: str) -> None:
        self._cache = {}
        self._note(op, mode="invalidated")

    def _flows_kept(self) -> bool:
        return all(e.flow is not None for e in self._cache.values())

    def _expands(self, policy: Policy, flow: FlowResult, u: int) -> bool:
        d = int(flow.depth[u])
        return bool(self._snap.passable[u]) and 0 <= d < policy.max_depth

    def _flow_may_change_on_add(self, policy: Policy, flow: FlowResult, u: int, v: int) -> bool:
        if self._snap.excluded[v]:
            return False
        if self._expands(policy, flow, u):
            dv = int(flow.depth[v])
            if dv < 0 or dv > int(flow.depth[u]) + 1:
                return True  # v moves closer to the seeds: its capacity changes
        # an unbounded new edge out of a node that passes flow opens an augmenting path
        # only if the source still reaches u_out and v_in still reaches the sink
        return bool(
            flow.capacity[u] > 1
            and flow.capacity[v] > 0
            and flow.from_source_out[u]
            and flow.to_sink_in[v]
        )

    def _depth_may_change_on_remove(self, policy: Policy, flow: FlowResult, u: int, v: int) -> bool:
        if not self._expands(policy, flow, u):
            return False
        dv = int(flow.depth[v])
        if dv != int(flow.depth[u]) + 1:
            return False
        snap = self._snap
        preds = snap.rindices[snap.rindptr[v] : snap.rindptr[v + 1]]
        other = (flow.depth[preds] == dv - 1) & snap.passable[preds]
        return not bool(other.any())

    # -- queries -----------------------------------------------------------------------

    def _seed_key(self, seeds: Iterable[str]) -> tuple[str, ...]:
        if isinstance(seeds, str):
            raise TypeError("seeds must be an iterable of member ids, not a string")
        key = tuple(sorted(set(seeds)))
        for s in key:
            self._num(s)
        return key

    def _acceptance(self, policy: Policy, seeds: Iterable[str]) -> Acceptance:
        key = (policy, self._seed_key(seeds))
        entry = self._cache.get(key)
        if entry is None or entry.flow is None:
            seeds = seed_numbers(self._snap, key[1])
            if policy.scheduled:
                entry = _Entry(seeds, compute(self._snap, policy, seeds))
            else:
                live = LiveCore(self._snap, policy, seeds)
                entry = _Entry(seeds, live.result, live=live)
            self._cache[key] = entry
            self.stats.flow_recomputes += 1
        flow = entry.flow
        assert flow is not None  # computed just above when missing
        if entry.acc is not None and entry.edits:
            entry.acc = patch_literal(self._snap, policy, entry.acc, flow, entry.edits)
            self.stats.literal_reruns += entry.acc is None
        entry.edits = None
        if entry.acc is None:
            entry.acc = literal_fixpoint(self._snap, policy, entry.seeds, flow)
        return entry.acc

    def _reach(self, seed_key: tuple[str, ...]) -> np.ndarray:
        """Who any vouching path from the seeds reaches (cached until the next mutation)."""
        if self._reach_snap is not self._snap:
            self._reach_cache = {}
            self._reach_snap = self._snap
        if seed_key not in self._reach_cache:
            self._reach_cache[seed_key] = self._reachable(seed_key)
        return self._reach_cache[seed_key]

    def _reachable(self, seed_key: tuple[str, ...], without: int | None = None) -> np.ndarray:
        snap = self._snap
        allowed = ~snap.excluded
        if without is not None:
            allowed = allowed.copy()
            allowed[without] = False
        seeds = seed_numbers(snap, seed_key)
        dist = bfs_levels(snap.indptr, snap.dst, seeds, allowed, snap.passable & allowed)
        return dist >= 0

    def accepted(self, policy: Policy, seeds: Iterable[str]) -> frozenset[str]:
        acc = self._acceptance(policy, seeds)
        ids = self._snap.ids
        return frozenset(ids[i] for i in np.flatnonzero(acc.accepted).tolist())

    def flow_accepted(self, policy: Policy, seeds: Iterable[str]) -> frozenset[str]:
        """Members the Advogato flow alone accepts (before the literal rules)."""
        acc = self._acceptance(policy, seeds)
        ids = self._snap.ids
        return frozenset(ids[i] for i in np.flatnonzero(acc.flow.accepted).tolist())

    def impact(self, member: str, seeds: Iterable[str]) -> tuple[str, ...]:
        """Who would lose every path from the seeds if ``member`` were removed."""
        v = self._num(member)
        seed_key = self._seed_key(seeds)
        lost = self._reachable(seed_key) & ~self._reachable(seed_key, without=v)
        lost[v] = False
        ids = self._snap.ids
        return tuple(ids[i] for i in np.flatnonzero(lost).tolist())

    def blast_radius(self, member: str, policy: Policy, seeds: Iterable[str]) -> BlastRadius:
        """Who depends on ``member``: accepted and waiting members, and what they pass on.

        Dependents are those every vouching path from the seeds to whom runs through
        ``member``; the policy's bound caps how many of them a compromised member can get
        accepted (docs/trust.md).
        """
        v = self._num(member)
        acc = self._acceptance(policy, seeds)
        seed_key = self._seed_key(seeds)
        lost = self._reach(seed_key) & ~self._reachable(seed_key, without=v)
        lost[v] = False
        ids = self._snap.ids
        flow = acc.flow
        if flow.core is not None:
            passes = int(flow.core.passed[v])
            bound = policy.bound(1)
        else:
            snap = self._snap
            lo, hi = int(snap.indptr[v]), int(snap.indptr[v + 1])
            passes = int(flow.edge_flow[lo:hi].sum())
            bound = max(int(flow.capacity[v]) - 1, 0)
        return BlastRadius(
            member,
            tuple(ids[i] for i in np.flatnonzero(lost & acc.accepted).tolist()),
            tuple(ids[i] for i in np.flatnonzero(lost & ~acc.accepted).tolist()),
            passes,
            bound,
        )

    def shortest_path(self, source: str, target: str) -> tuple[str, ...] | None:
        """Fewest-hop vouching path; suspended, removed and pod members carry no trust."""
        path = self._shortest(self._num(source), self._num(target))
        return self._names(path) if path is not None else None

    def _shortest(self, s: int, t: int) -> list[int] | None:
        return shortest_path(self._snap.adj, s, t, self._snap.passable_list)

    def disjoint_paths(self, source: str, target: str, k: int) -> list[tuple[str, ...]]:
        """Up to ``k`` paths from source to target that share no member in between."""
        if k < 1:
            raise ValueError("k must be >= 1")
        s, t = self._num(source), self._num(target)
        if s == t:
            return [(source,)]
        res = disjoint_paths(self._snap.adj, [s], t, k, inner_ok=self._snap.passable_list)
        return [self._names(p) for p in res.paths]

    def _names(self, path: list[int]) -> tuple[str, ...]:
        ids = self._snap.ids
        return tuple(ids[i] for i in path)

    def vet(
        self, member: str, policy: Policy, seeds: Iterable[str], asking: str | None = None
    ) -> Decision:
        i = self._num(member)
        acc = self._acceptance(policy, seeds)
        snap = self._snap
        seed_list = acc.seeds.tolist()
        eligible = bool(acc.accepted[i])
        status = self.status(member)
        reasons = self._reasons(i, member, status, policy, acc)
        inner = snap.passable_list
        reachable = acc.flow.depth[i] >= 0 or bool(
            self._reach(tuple(snap.ids[x] for x in seed_list))[i]
        )
        if asking is not None:
            path = self._shortest(self._num(asking), i)
        else:
            path = nearest_source_path(snap.adj, seed_list, i, inner) if reachable else None
        k = policy.max_paths if eligible else CUT_LIMIT
        res = (
            disjoint_paths(
                snap.adj, seed_list, i, k, inner_ok=inner, want_cut=not eligible, super_source=True
            )
            if reachable
            else DisjointResult(paths=[], cut=[])
        )
        return Decision(
            member=member,
            eligible=eligible,
            reasons=tuple(reasons),
            shortest_path=self._names(path) if path is not None else None,
            disjoint_paths=tuple(self._names(p) for p in res.paths[: policy.max_paths]),
            cut=self._names(res.cut) if res.cut else (),
            probation=status == MemberStatus.POD,
        )

    def _reasons(
        self, i: int, member: str, status: MemberStatus, policy: Policy, acc: Acceptance
    ) -> list[Reason]:
        out: list[Reason] = []
        if i in set(acc.seeds.tolist()):
            return [Reason("seed", f"{member} is a seed partner.")]
        if status in EXCLUDED_STATUSES:
            out.append(
                Reason(str(status), f"{member} is {status}: no trust flows to or through them.")
            )
            return out
        if int(self._snap.kind[i]) == ORG_CODE:
            out.extend(self._org_reasons(i, member, policy, acc))
        else:
            out.extend(self._provider_reasons(i, member, policy, acc))
        if status == MemberStatus.POD:
            out.append(
                Reason("probation", f"{member} is in a probation pod: matchable, cannot vouch.")
            )
        return out

    def _provider_reasons(
        self, i: int, member: str, policy: Policy, acc: Acceptance
    ) -> list[Reason]:
        out: list[Reason] = []
        vouches, refs = int(acc.vouches[i]), int(acc.references[i])
        if vouches >= 1:
            out.append(
                Reason(
                    "vouched_by_accepted",
                    f"{member} has {vouches} vouch{'' if vouches == 1 else 'es'} "
                    "from accepted full members.",
                )
            )
        elif refs >= policy.provider_min_references:
            out.append(
                Reason(
                    "references_from_accepted",
                    f"{member} has references from {refs} distinct accepted members.",
                )
            )
        else:
            out.append(
                Reason(
                    "insufficient_references",
                    f"{member} has no vouch from an accepted full member and {refs} of the "
                    f"{policy.provider_min_references} references needed.",
                )
            )
        depth = int(acc.flow.depth[i])
        if depth < 0:
            within = f" within {policy.max_depth} steps" if policy.scheduled else ""
            out.append(
                Reason("unreachable", f"no vouching path reaches {member} from the seeds{within}.")
            )
        elif not policy.scheduled:
            explain = accepted_reason if acc.flow.accepted[i] else refusal_reason
            out.append(explain(self._snap, policy, acc.flow, i))
        elif acc.flow.accepted[i]:
            out.append(
                Reason(
                    "flow_accepted",
                    f"the trust flow from the seeds reaches {member} (distance {depth}).",
                )
            )
        else:
            out.append(
                Reason(
                    "no_flow",
                    f"the capacity of the members vouching for {member} (distance {depth}) "
                    "is used up: the trust flow does not reach them.",
                )
            )
        return out

    def _org_reasons(self, i: int, member: str, policy: Policy, acc: Acceptance) -> list[Reason]:
        snap = self._snap
        need = policy.organization_min_references
        if acc.introduced[i]:
            return [Reason("introduced_by_partner", f"{member} was brought in by a seed partner.")]
        preds = snap.rindices[snap.rindptr[i] : snap.rindptr[i + 1]]
        ok = acc.accepted[preds] & (snap.kind[preds] == ORG_CODE) & snap.passable[preds]
        refs = int(ok.sum())
        if refs < need:
            return [
                Reason(
                    "insufficient_org_references",
                    f"{member} has references from {refs} of the {need} distinct accepted "
                    "organizations needed.",
                )
            ]
        found = acc.org_paths.get(i, need if acc.accepted[i] else 0)
        if found >= need:
            return [
                Reason(
                    "org_references",
                    f"{member} has references from {refs} accepted organizations on "
                    f"{found} independent paths.",
                )
            ]
        return [
            Reason(
                "dependent_references",
                f"{member}'s {refs} referees depend on common introducers: only {found} "
                f"independent path{'' if found == 1 else 's'} of the {need} needed.",
            )
        ]
