"""Path searches over the list CSR: shortest vouching paths and vertex-disjoint paths.

Everything here works on member numbers of a :class:`~trust_graph.snapshot.Adjacency`
and touches only the part of the graph it explores: no per-query setup proportional to
the graph size. ``inner_ok[v]`` says whether ``v`` may sit inside a path (carry trust
onwards); the endpoints are always allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from trust_graph.snapshot import Adjacency

SUPER = -2  # the super source in front of a seed set


def _join(fpar: dict[int, int], bpar: dict[int, int], meet: int) -> list[int]:
    head: list[int] = []
    x = meet
    while x != -1:
        head.append(x)
        x = fpar[x]
    head.reverse()
    x = bpar[meet]
    while x != -1:
        head.append(x)
        x = bpar[x]
    return head


def shortest_path(
    adj: Adjacency, s: int, t: int, inner_ok: Sequence[bool] | None = None
) -> list[int] | None:
    """Bidirectional BFS, always growing the side with fewer edges to scan.

    Neighbours are scanned in member-number order, so the answer is stable.
    """
    if s == t:
        return [s]
    optr, oidx, iptr, iidx = adj.optr, adj.oidx, adj.iptr, adj.iidx
    fpar, bpar = {s: -1}, {t: -1}
    ff, bf = [s], [t]

    def ok(v: int) -> bool:
        return v == s or v == t or inner_ok is None or inner_ok[v]

    while ff and bf:
        fvol = sum(optr[u + 1] - optr[u] for u in ff)
        bvol = sum(iptr[u + 1] - iptr[u] for u in bf)
        forward = fvol <= bvol
        if forward:
            ptr, idx, par, other, frontier = optr, oidx, fpar, bpar, ff
        else:
            ptr, idx, par, other, frontier = iptr, iidx, bpar, fpar, bf
        nxt: list[int] = []
        for u in frontier:
            if not ok(u):
                continue
            for w in idx[ptr[u] : ptr[u + 1]]:
                if w in par:
                    continue
                par[w] = u
                nxt.append(w)
                if w in other and ok(w):
                    # every meeting found while expanding one level has the same length:
                    # a shorter one would have been met when the other side expanded
                    return _join(fpar, bpar, w)
        if forward:
            ff = nxt
        else:
            bf = nxt
    return None


def nearest_source_path(
    adj: Adjacency, sources: Sequence[int], t: int, inner_ok: Sequence[bool] | None = None
) -> list[int] | None:
    """Shortest path from whichever source is nearest to ``t`` (backward BFS from ``t``)."""
    srcset = set(sources)
    if t in srcset:
        return [t]
    iptr, iidx = adj.iptr, adj.iidx
    par = {t: -1}
    frontier = [t]
    while frontier:
        found: list[int] = []
        nxt: list[int] = []
        for u in frontier:
            if u != t and inner_ok is not None and not inner_ok[u]:
                continue
            for w in iidx[iptr[u] : iptr[u + 1]]:
                if w in par:
                    continue
                par[w] = u
                if w in srcset:
                    found.append(w)
                nxt.append(w)
        if found:
            path = [min(found)]
            while path[-1] != t:
                path.append(par[path[-1]])
            return path
        frontier = nxt
    return None


@dataclass
class DisjointResult:
    paths: list[list[int]]
    cut: list[int] | None = None  # a minimum vertex cut, when asked for and complete
    complete: bool = False  # True when the search proved no further path exists


class _Flow:
    """Unit vertex-capacity flow kept as sparse sets; residual graph is implicit.

    States: ``2v`` is v's in-copy, ``2v+1`` its out-copy, ``SUPER`` the super source.
    """

    def __init__(
        self,
        adj: Adjacency,
        sources: Sequence[int],
        t: int,
        inner_ok: Sequence[bool] | None,
        multi: bool,
    ) -> None:
        self.adj = adj
        self.sources = sorted(set(sources))
        self.srcset = set(self.sources)
        self.s = -1 if multi else self.sources[0]
        self.t = t
        self.multi = multi
        self.inner_ok = inner_ok
        self.used: set[int] = set()
        self.fout: dict[int, set[int]] = {}
        self.fin: dict[int, int] = {}

    def ok(self, v: int) -> bool:
        return v == self.t or v in self.srcset or self.inner_ok is None or self.inner_ok[v]

    def start(self) -> int:
        return SUPER if self.multi else 2 * self.s + 1

    def succ(self, x: int) -> list[int]:
        if x == SUPER:
            return [2 * v for v in self.sources]
        v = x >> 1
        res: list[int] = []
        if x & 1 == 0:  # in-copy
            if v not in self.used and v != self.s and self.ok(v):
                res.append(x + 1)
            u = self.fin.get(v)
            if u is not None:
                res.append(2 * u + 1)
            return res
        adj = self.adj
        # Edges have unbounded capacity (only vertices are cut), except those out of a
        # single source, which would otherwise let a direct s->t edge count twice.
        flow = self.fout.get(v) if v == self.s else None
        t = self.t
        inner_ok = self.inner_ok
        for w in adj.oidx[adj.optr[v] : adj.optr[v + 1]]:
            if flow is not None and w in flow:
                continue
            if w != t and inner_ok is not None and not inner_ok[w] and w not in self.srcset:
                continue
            res.append(2 * w)
        if v in self.used:
            res.append(x - 1)
        return res

    def pred(self, y: int) -> list[int]:
        w = y >> 1
        res: list[int] = []
        if y & 1 == 0:  # in-copy of w
            adj = self.adj
            fout = self.fout
            for u in adj.iidx[adj.iptr[w] : adj.iptr[w + 1]]:
                if u == self.s and w in fout.get(u, ()):
                    continue
                if not self.ok(u) or (u == self.t):
                    continue
                res.append(2 * u + 1)
            if w in self.used:
                res.append(y + 1)
            if self.multi and w in self.srcset:
                res.append(SUPER)
            return res
        if w not in self.used and w != self.s and self.ok(w) and w != self.t:
            res.append(y - 1)
        for z in self.fout.get(w, ()):
            res.append(2 * z)
        return res

    def search(self) -> list[int] | None:
        """One augmenting path (as states), bidirectional, or None."""
        start, target = self.start(), 2 * self.t
        fpar, bpar = {start: -1}, {target: -1}
        ff, bf = [start], [target]
        while ff and bf:
            forward = len(ff) <= len(bf)
            nxt: list[int] = []
            if forward:
                for x in ff:
                    if x == target:
                        continue
                    for z in self.succ(x):
                        if z in fpar:
                            continue
                        fpar[z] = x
                        if z in bpar:
                            return _join(fpar, bpar, z)
                        nxt.append(z)
                ff = nxt
            else:
                for y in bf:
                    if y == start:
                        continue
                    for z in self.pred(y):
                        if z in bpar:
                            continue
                        bpar[z] = y
                        if z in fpar:
                            return _join(fpar, bpar, z)
                        nxt.append(z)
                bf = nxt
        return None

    def augment(self, states: list[int]) -> None:
        for a, b in pairwise(states):
            if a == SUPER:
                continue
            va, vb = a >> 1, b >> 1
            if va == vb:
                if a & 1 == 0:  # in -> out: the vertex now carries flow
                    self.used.add(va)
                else:  # out -> in: flow through the vertex cancelled
                    self.used.discard(va)
            elif a & 1:  # out(u) -> in(w): push along edge u->w
                self.fout.setdefault(va, set()).add(vb)
                if vb != self.t:
                    self.fin[vb] = va
            else:  # in(w) -> out(u): cancel flow on edge u->w
                self.fout[vb].discard(va)
                if not self.fout[vb]:
                    del self.fout[vb]
                self.fin.pop(va, None)

    def paths(self) -> list[list[int]]:
        if self.multi:  # a path starts at a seed whose unit of flow came from the super source
            starts = [[v] for v in self.sources if v in self.used and v not in self.fin]
        else:
            starts = [[self.s, w] for w in sorted(self.fout.get(self.s, ()))]
        for path in starts:
            while path[-1] != self.t:
                (nxt,) = tuple(self.fout[path[-1]])
                path.append(nxt)
        return sorted(starts, key=lambda p: (len(p), p))

    def cut(self) -> list[int]:
        """A minimum vertex cut, from whichever residual side is smaller.

        The source side and the target side are explored a level at a time in turn; the
        first to run out gives the cut (vertices whose in-copy is on one side and whose
        out-copy is on the other), so a cut near a small end costs little.
        """
        start, target = self.start(), 2 * self.t
        sides = [({start}, [start], self.succ), ({target}, [target], self.pred)]
        while True:
            for which, (seen, frontier, step) in enumerate(sides):
                nxt = []
                for x in frontier:
                    for z in step(x):
                        if z not in seen and z != SUPER:
                            seen.add(z)
                            nxt.append(z)
                if not nxt:
                    return self._cut_from(seen, forward=which == 0)
                frontier[:] = nxt

    def _cut_from(self, seen: set[int], *, forward: bool) -> list[int]:
        ends = {self.t, self.s}
        if forward:
            ins = {x >> 1 for x in seen if x != SUPER and x & 1 == 0}
            return sorted(v for v in ins if 2 * v + 1 not in seen and v not in ends)
        outs = {x >> 1 for x in seen if x != SUPER and x & 1}
        return sorted(v for v in outs if 2 * v not in seen and v not in ends)


def disjoint_paths(
    adj: Adjacency,
    sources: Sequence[int],
    t: int,
    k: int,
    *,
    inner_ok: Sequence[bool] | None = None,
    want_cut: bool = False,
    super_source: bool = False,
) -> DisjointResult:
    """Up to ``k`` paths to ``t`` sharing no vertex but their ends.

    With one source the paths share that source; with several (or ``super_source``), a
    super source feeds them and each source is an ordinary vertex (so a cut may name a
    seed, and two paths through one seed count once). Augmenting paths are found by
    bidirectional BFS in the implicit node-split residual graph, so a query touches only
    what it explores. ``complete`` says the search proved there is no further path; the
    cut is computed only then.
    """
    multi = super_source or len(set(sources)) > 1
    if not sources or t in sources:
        return DisjointResult(paths=[[t]] if t in sources else [], cut=[], complete=True)
    flow = _Flow(adj, sources, t, inner_ok, multi)
    complete = False
    for _ in range(k):
        states = flow.search()
        if states is None:
            complete = True
            break
        flow.augment(states)
    result = DisjointResult(paths=flow.paths(), complete=complete)
    if want_cut and complete:
        result.cut = flow.cut()
    return result
