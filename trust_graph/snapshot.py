"""A compact, immutable array view of the trust graph for the hot paths.

networkx is the model; walking it costs a dict lookup per edge and the flow needs helper
graphs per call. The snapshot numbers members in sorted id order (so every traversal is
independent of insertion order) and keeps the edges as CSR arrays in both directions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np

from trust_graph.model import (
    EDGE_CODES,
    EXCLUDED_STATUSES,
    KIND_CODES,
    STATUS_CODES,
    EdgeKind,
    MemberKind,
    MemberStatus,
)

_KIND_INDEX = {k: i for i, k in enumerate(KIND_CODES)}
_STATUS_INDEX = {s: i for i, s in enumerate(STATUS_CODES)}
_EDGE_INDEX = {e: i for i, e in enumerate(EDGE_CODES)}
POD_CODE = _STATUS_INDEX[MemberStatus.POD]
EXCLUDED_CODES = np.array(sorted(_STATUS_INDEX[s] for s in EXCLUDED_STATUSES), dtype=np.int8)


@dataclass(frozen=True)
class Adjacency:
    """Plain-list CSR: pure-Python traversals index lists much faster than numpy arrays."""

    n: int
    optr: list[int]
    oidx: list[int]
    iptr: list[int]
    iidx: list[int]


@dataclass(frozen=True, eq=False)
class Snapshot:
    ids: list[str]
    kind: np.ndarray  # int8 codes into KIND_CODES
    status: np.ndarray  # int8 codes into STATUS_CODES
    src: np.ndarray  # int32, edges sorted by (src, dst), no duplicates, no self-loops
    dst: np.ndarray
    ekind: np.ndarray  # int8 codes into EDGE_CODES
    at: np.ndarray  # float64 unix seconds, NaN when unknown

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def m(self) -> int:
        return int(self.src.size)

    @cached_property
    def index(self) -> dict[str, int]:
        return {member: i for i, member in enumerate(self.ids)}

    @cached_property
    def indptr(self) -> np.ndarray:
        return _indptr(self.src, self.n)

    @cached_property
    def _reverse_order(self) -> np.ndarray:
        return np.lexsort((self.src, self.dst))

    @cached_property
    def rindptr(self) -> np.ndarray:
        return _indptr(self.dst[self._reverse_order], self.n)

    @cached_property
    def rindices(self) -> np.ndarray:
        rindices: np.ndarray = self.src[self._reverse_order]  # numpy types indexing as Any
        return rindices

    @cached_property
    def adj(self) -> Adjacency:
        return Adjacency(
            self.n,
            self.indptr.tolist(),
            self.dst.tolist(),
            self.rindptr.tolist(),
            self.rindices.tolist(),
        )

    @cached_property
    def excluded(self) -> np.ndarray:
        return np.isin(self.status, EXCLUDED_CODES)

    @cached_property
    def passable(self) -> np.ndarray:
        """Members who may carry trust onwards: not excluded and not on probation."""
        passable: np.ndarray = ~self.excluded & (self.status != POD_CODE)
        return passable

    @cached_property
    def passable_list(self) -> list[bool]:
        values: list[bool] = self.passable.tolist()  # numpy types tolist() as Any
        return values

    def edge_position(self, u: int, v: int) -> int:
        lo, hi = int(self.indptr[u]), int(self.indptr[u + 1])
        pos = lo + int(np.searchsorted(self.dst[lo:hi], v))
        return pos if pos < hi and int(self.dst[pos]) == v else -1

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_edges(
        cls,
        ids: Iterable[str],
        src: np.ndarray,
        dst: np.ndarray,
        *,
        ekind: np.ndarray | None = None,
        at: np.ndarray | None = None,
        kind: dict[str, MemberKind] | None = None,
        status: dict[str, MemberStatus] | None = None,
        default_kind: MemberKind = MemberKind.PROVIDER,
        default_status: MemberStatus = MemberStatus.ACTIVE,
    ) -> Snapshot:
        """Build from edges given as positions into ``ids`` (any order, duplicates allowed).

        Members are renumbered in sorted id order; self-loops are dropped and of duplicate
        edges the first one wins.
        """
        ids = list(ids)
        order = np.argsort(np.array(ids, dtype=object), kind="stable") if ids else np.array([])
        sorted_ids = [ids[i] for i in order.tolist()]
        if len(set(sorted_ids)) != len(sorted_ids):
            raise ValueError("duplicate member ids")
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order.astype(np.int64)] = np.arange(len(ids), dtype=np.int64)
        m = int(np.asarray(src).size)
        ekind = np.zeros(m, dtype=np.int8) if ekind is None else np.asarray(ekind, np.int8)
        at = np.full(m, np.nan) if at is None else np.asarray(at, dtype=np.float64)
        s = rank[np.asarray(src, dtype=np.int64)] if m else np.zeros(0, np.int64)
        d = rank[np.asarray(dst, dtype=np.int64)] if m else np.zeros(0, np.int64)
        keep = s != d
        s, d, ekind, at = s[keep], d[keep], ekind[keep], at[keep]
        n = len(sorted_ids)
        key = s * max(n, 1) + d
        _, first = np.unique(key, return_index=True)  # sorted by key == sorted by (s, d)
        kinds = np.full(n, _KIND_INDEX[default_kind], dtype=np.int8)
        statuses = np.full(n, _STATUS_INDEX[default_status], dtype=np.int8)
        if kind or status:
            for i, member in enumerate(sorted_ids):
                if kind and member in kind:
                    kinds[i] = _KIND_INDEX[MemberKind(kind[member])]
                if status and member in status:
                    statuses[i] = _STATUS_INDEX[MemberStatus(status[member])]
        return cls(
            ids=sorted_ids,
            kind=kinds,
            status=statuses,
            src=s[first].astype(np.int32),
            dst=d[first].astype(np.int32),
            ekind=ekind[first],
            at=at[first],
        )

    @classmethod
    def from_networkx(cls, g: nx.DiGraph) -> Snapshot:
        ids = list(g.nodes)
        pos = {member: i for i, member in enumerate(ids)}
        src, dst, ek, at = [], [], [], []
        for u, v, data in g.edges(data=True):
            src.append(pos[u])
            dst.append(pos[v])
            ek.append(_EDGE_INDEX[EdgeKind(data.get("kind", EdgeKind.VOUCH))])
            when = data.get("at")
            at.append(when.timestamp() if when is not None else np.nan)
        nodes = g.nodes
        return cls.from_edges(
            ids,
            np.array(src, dtype=np.int64),
            np.array(dst, dtype=np.int64),
            ekind=np.array(ek, dtype=np.int8),
            at=np.array(at, dtype=np.float64),
            kind={u: nodes[u].get("kind", MemberKind.PROVIDER) for u in ids},
            status={u: nodes[u].get("status", MemberStatus.ACTIVE) for u in ids},
        )

    def to_networkx(self) -> nx.DiGraph:
        from datetime import UTC, datetime

        g = nx.DiGraph()
        kinds = [KIND_CODES[c] for c in self.kind.tolist()]
        statuses = [STATUS_CODES[c] for c in self.status.tolist()]
        g.add_nodes_from(
            (u, {"kind": k, "status": s}) for u, k, s in zip(self.ids, kinds, statuses, strict=True)
        )
        ids = self.ids
        ats = self.at.tolist()
        g.add_edges_from(
            (
                ids[u],
                ids[v],
                {
                    "kind": EDGE_CODES[k],
                    "at": None if a != a else datetime.fromtimestamp(a, tz=UTC),
                },
            )
            for u, v, k, a in zip(
                self.src.tolist(), self.dst.tolist(), self.ekind.tolist(), ats, strict=True
            )
        )
        return g


def _indptr(sorted_keys: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(sorted_keys, minlength=n) if sorted_keys.size else np.zeros(n, np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def gather(indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """All neighbours of ``nodes`` (with repeats), vectorised."""
    out: np.ndarray = indices[positions(indptr, nodes)]
    return out


def positions(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The CSR positions of every edge out of ``nodes``, vectorised."""
    starts = indptr[nodes]
    lens = indptr[nodes + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    out: np.ndarray = offsets + np.arange(total)
    return out


def bfs_levels(
    indptr: np.ndarray,
    indices: np.ndarray,
    sources: np.ndarray,
    allowed: np.ndarray,
    passable: np.ndarray,
    max_depth: int | None = None,
) -> np.ndarray:
    """Distance from the nearest source (-1: unreached); only passable members expand."""
    n = allowed.size
    dist = np.full(n, -1, dtype=np.int32)
    frontier = np.unique(sources[allowed[sources]]) if sources.size else sources
    dist[frontier] = 0
    depth = 0
    while frontier.size and (max_depth is None or depth < max_depth):
        frontier = frontier[passable[frontier]]
        nbrs = gather(indptr, indices, frontier)
        nbrs = np.unique(nbrs[(dist[nbrs] < 0) & allowed[nbrs]])
        depth += 1
        dist[nbrs] = depth
        frontier = nbrs
    return dist


# -- small edits: O(n + m) numpy copies, no Python loop over the graph ---------------------


def empty() -> Snapshot:
    z = np.zeros(0, dtype=np.int32)
    return Snapshot(
        [], np.zeros(0, np.int8), np.zeros(0, np.int8), z, z, z.astype(np.int8), np.zeros(0)
    )


def with_member(
    snap: Snapshot, member: str, kind: MemberKind, status: MemberStatus
) -> tuple[Snapshot, int]:
    """Insert a member at its sorted position; returns the new snapshot and that position."""
    import bisect

    pos = bisect.bisect_left(snap.ids, member)
    ids = [*snap.ids[:pos], member, *snap.ids[pos:]]
    shift = np.int32(1)
    return (
        Snapshot(
            ids=ids,
            kind=np.insert(snap.kind, pos, _KIND_INDEX[kind]),
            status=np.insert(snap.status, pos, _STATUS_INDEX[status]),
            src=snap.src + (snap.src >= pos) * shift,
            dst=snap.dst + (snap.dst >= pos) * shift,
            ekind=snap.ekind,
            at=snap.at,
        ),
        pos,
    )


def with_status(snap: Snapshot, v: int, status: MemberStatus) -> Snapshot:
    statuses = snap.status.copy()
    statuses[v] = _STATUS_INDEX[status]
    new = Snapshot(snap.ids, snap.kind, statuses, snap.src, snap.dst, snap.ekind, snap.at)
    _carry(snap, new, "index", "indptr", "rindptr", "rindices", "adj")
    return new


def edge_insert_position(snap: Snapshot, u: int, v: int) -> int:
    lo, hi = int(snap.indptr[u]), int(snap.indptr[u + 1])
    return lo + int(np.searchsorted(snap.dst[lo:hi], v))


def _carry(old: Snapshot, new: Snapshot, *names: str) -> None:
    """Reuse derived data of ``old`` that a change left valid (cached_property slots)."""
    for name in names:
        if name in old.__dict__:
            new.__dict__[name] = old.__dict__[name]


def _patch_edge(old: Snapshot, new: Snapshot, u: int, v: int, pos: int, add: bool) -> None:
    """Derive the new CSR views from the old ones by one insertion or deletion.

    Rebuilding them costs a sort and four list conversions of the whole edge set; an
    edit is a memmove.
    """
    _carry(old, new, "index", "excluded", "passable", "passable_list")
    if "rindices" not in old.__dict__:
        return
    step = 1 if add else -1
    lo, hi = int(old.rindptr[v]), int(old.rindptr[v + 1])
    rpos = lo + int(np.searchsorted(old.rindices[lo:hi], u))
    indptr = old.indptr.copy()
    indptr[u + 1 :] += step
    rindptr = old.rindptr.copy()
    rindptr[v + 1 :] += step
    rindices = np.insert(old.rindices, rpos, u) if add else np.delete(old.rindices, rpos)
    new.__dict__.update(indptr=indptr, rindptr=rindptr, rindices=rindices)
    if "adj" in old.__dict__:
        a = old.adj
        oidx, iidx = a.oidx.copy(), a.iidx.copy()
        if add:
            oidx.insert(pos, v)
            iidx.insert(rpos, u)
        else:
            del oidx[pos]
            del iidx[rpos]
        new.__dict__["adj"] = Adjacency(a.n, indptr.tolist(), oidx, rindptr.tolist(), iidx)


def with_edge(snap: Snapshot, u: int, v: int, kind: EdgeKind, at: float) -> tuple[Snapshot, int]:
    """Add or overwrite the edge u->v; returns the snapshot and the edge's position."""
    pos = snap.edge_position(u, v)
    if pos >= 0:
        ekind, ats = snap.ekind.copy(), snap.at.copy()
        ekind[pos], ats[pos] = _EDGE_INDEX[kind], at
        new = Snapshot(snap.ids, snap.kind, snap.status, snap.src, snap.dst, ekind, ats)
        _carry(snap, new, "index", "excluded", "passable", "passable_list", "indptr")
        _carry(snap, new, "rindptr", "rindices", "adj")
        return new, pos
    pos = edge_insert_position(snap, u, v)
    new = Snapshot(
        snap.ids,
        snap.kind,
        snap.status,
        np.insert(snap.src, pos, u).astype(np.int32),
        np.insert(snap.dst, pos, v).astype(np.int32),
        np.insert(snap.ekind, pos, _EDGE_INDEX[kind]).astype(np.int8),
        np.insert(snap.at, pos, at),
    )
    _patch_edge(snap, new, u, v, pos, add=True)
    return new, pos


def without_edges(snap: Snapshot, drop: np.ndarray) -> Snapshot:
    keep = ~drop
    return Snapshot(
        snap.ids,
        snap.kind,
        snap.status,
        snap.src[keep],
        snap.dst[keep],
        snap.ekind[keep],
        snap.at[keep],
    )


def without_edge(snap: Snapshot, pos: int) -> Snapshot:
    drop = np.zeros(snap.m, dtype=bool)
    drop[pos] = True
    new = without_edges(snap, drop)
    _patch_edge(snap, new, int(snap.src[pos]), int(snap.dst[pos]), pos, add=False)
    return new
