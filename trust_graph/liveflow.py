"""A maximum flow of the core rule's "sources and the rest" network, kept up to date.

The network (see :func:`trust_graph.flow.core_rule`): ``S -> v_out`` (``supply[v]``) for
each source; for every other member of the network ``v_in -> T`` (1) and ``v_in -> v_out``
(``cap[v] - 1``); a vouch ``u -> w`` is ``u_out -> w_in`` (unbounded) when ``u`` gives and
``w`` is not a source. The residual graph is never built: it is read from the flow state
and the snapshot's adjacency lists, so a repair touches only what it explores.

Who the flow reaches does not depend on which maximum flow is held. The sets of members a
maximum flow can keep units with are the bases of a matroid; the one taken is the first
in rank order (nearest the seeds, then lowest number), unique, and reached from any
maximum flow by moving kept units along residual paths (:meth:`LiveFlow._better`). So a
flow patched after a change and one computed from scratch give the same answer
(docs/trust.md, "Who gets contested trust").
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from trust_graph.snapshot import Adjacency

NEAR = 100  # nodes one exchange search may look at before waiting for the next round
S = -1  # the source
T = -2  # the sink


class LiveFlow:
    """Flow state per member; ``2v`` is ``v_in``, ``2v + 1`` is ``v_out``."""

    def __init__(
        self,
        adj: Adjacency,
        cap: list[int],
        source: list[bool],
        supply: list[int],
        rank: list[int],
    ) -> None:
        self.adj = adj
        self.cap, self.source, self.supply = cap, source, supply
        self.rank = rank  # priority of each member's unit, lower first (distinct)
        n = len(cap)
        self.used = [0] * n  # sources: units drawn from the supply
        self.passed = [0] * n  # the rest: units passed on
        self.sunk = [False] * n  # the rest: keeps its own unit
        self.fout: dict[int, dict[int, int]] = {}
        self.fin: dict[int, dict[int, int]] = {}
        self.unsat = {v for v in range(n) if cap[v] > 0 and not source[v]}
        self.touched: set[int] = set()  # members whose ``passed`` changed since last asked
        self._reach_t: set[int] | None = None
        self.settled: set[int] = set()  # the last answer of :meth:`unreached`
        self._reaching: set[int] = set()  # nodes that reached T when last settled

    # -- the network ---------------------------------------------------------------------

    def gives(self, u: int) -> bool:
        if self.source[u]:
            return self.supply[u] > 0
        return self.cap[u] > 1

    def rest(self, w: int) -> bool:
        return self.cap[w] > 0 and not self.source[w]

    def load(
        self,
        edges: Iterable[tuple[int, int, int]],
        sunk: Iterable[int],
        passed: Iterable[tuple[int, int]],
        used: Iterable[tuple[int, int]],
    ) -> None:
        """Take over a maximum flow computed elsewhere (edge flows, sinks, inner and supply)."""
        for u, w, f in edges:
            self.fout.setdefault(u, {})[w] = f
            self.fin.setdefault(w, {})[u] = f
        for v in sunk:
            self.sunk[v] = True
            self.unsat.discard(v)
        for v, f in passed:
            self.passed[v] = f
        for v, f in used:
            self.used[v] = f
        self._reach_t = None

    # -- flow arithmetic -----------------------------------------------------------------

    def _edge(self, u: int, w: int, delta: int) -> None:
        out = self.fout.setdefault(u, {})
        f = out.get(w, 0) + delta
        if f:
            out[w] = f
            self.fin.setdefault(w, {})[u] = f
        else:
            del out[w]
            if not out:
                del self.fout[u]
            into = self.fin[w]
            del into[u]
            if not into:
                del self.fin[w]

    def _step(self, x: int, y: int, delta: int) -> None:
        """Push ``delta`` (1 or -1) along the network edge x -> y."""
        if x == S:
            self.used[y >> 1] += delta
            self.touched.add(y >> 1)
        elif y == T:
            v = x >> 1
            self.sunk[v] = delta > 0
            if delta > 0:
                self.unsat.discard(v)
            else:
                self.unsat.add(v)
        elif x >> 1 == y >> 1:
            v = x >> 1
            self.passed[v] += delta
            self.touched.add(v)
        else:
            self._edge(x >> 1, y >> 1, delta)

    def _push_residual(self, x: int, y: int) -> None:
        """One unit along the residual edge x -> y (forward edge, or a reversed one)."""
        if x == S or y == T:
            self._step(x, y, 1)
        elif x >> 1 == y >> 1:
            self._step(x, y, 1) if x & 1 == 0 else self._step(y, x, -1)
        elif x & 1:  # u_out -> w_in: a vouch
            self._step(x, y, 1)
        else:  # w_in -> u_out: cancel a unit on the vouch u -> w
            self._step(y, x, -1)

    # -- searches ------------------------------------------------------------------------

    def _toward_sink(
        self, record: dict[int, list[int]] | None = None
    ) -> tuple[dict[int, int], bool]:
        """Backward BFS from T in the residual graph: every node that reaches T, with the
        next hop towards it. Stops early (second value True) when the source is found.
        ``record`` collects, per node reached, its residual predecessors.
        """
        nxt: dict[int, int] = {}
        frontier: list[int] = []
        for v in sorted(self.unsat):
            nxt[2 * v] = T
            frontier.append(2 * v)
        if record is not None:
            record[T] = frontier[:]
        iptr, iidx = self.adj.iptr, self.adj.iidx
        source, supply, cap, passed = self.source, self.supply, self.cap, self.passed
        used, fout = self.used, self.fout
        while frontier:
            new: list[int] = []
            for y in frontier:
                v = y >> 1  # :meth:`_preds` inlined: this search runs every round
                if y & 1 == 0:
                    preds = [
                        2 * u + 1
                        for u in iidx[iptr[v] : iptr[v + 1]]
                        if ((supply[u] > 0) if source[u] else (cap[u] > 1))
                    ]
                    if passed[v] > 0:
                        preds.append(y + 1)
                else:
                    if source[v]:
                        if used[v] < supply[v]:
                            nxt[S] = y
                            return nxt, True
                        preds = []
                    else:
                        preds = [y - 1] if passed[v] < cap[v] - 1 else []
                    preds.extend(2 * w for w in fout.get(v, ()))
                for x in preds:
                    if x not in nxt:
                        nxt[x] = y
                        new.append(x)
                if record is not None:
                    record[y] = preds
            frontier = new
        return nxt, False

    def _preds(self, y: int) -> list[int] | None:
        """Nodes with a residual edge into ``y`` (None: the source has one, an augmenting
        path). T and the source are never listed."""
        v = y >> 1
        if y & 1 == 0:  # v_in of a member of the rest
            adj, source, supply, cap = self.adj, self.source, self.supply, self.cap
            out = [
                2 * u + 1
                for u in adj.iidx[adj.iptr[v] : adj.iptr[v + 1]]
                if ((supply[u] > 0) if source[u] else (cap[u] > 1))
            ]
            if self.passed[v] > 0:
                out.append(y + 1)
            return out
        if self.source[v]:
            if self.used[v] < self.supply[v]:
                return None
            out = []
        else:
            out = [y - 1] if self.passed[v] < self.cap[v] - 1 else []
        out.extend(2 * w for w in self.fout.get(v, ()))
        return out

    def _support_path(self, start: int, goal: int, forward: bool) -> list[int] | None:
        """A path along edges that carry flow, from ``start`` to ``goal`` (forward) or
        from ``goal`` to ``start`` (backward), as the list of nodes in flow direction."""
        par = {start: start}
        frontier = [start]
        while frontier:
            new: list[int] = []
            for x in frontier:
                for z in self._support(x, forward):
                    if z in par:
                        continue
                    par[z] = x
                    if z == goal:
                        path = [z]
                        while path[-1] != start:
                            path.append(par[path[-1]])
                        if forward:
                            path.reverse()
                        return path
                    new.append(z)
            frontier = new
        return None

    def _support(self, x: int, forward: bool) -> list[int]:
        if x == S or x == T:
            return []
        v = x >> 1
        if forward:
            if x & 1 == 0:
                out = [T] if self.sunk[v] else []
                if self.passed[v] > 0:
                    out.append(x + 1)
                return out
            return [2 * w for w in self.fout.get(v, ())]
        if x & 1 == 0:
            return [2 * u + 1 for u in self.fin.get(v, ())]
        if self.source[v]:
            return [S] if self.used[v] > 0 else []
        return [x - 1] if self.passed[v] > 0 else []

    def _cancel(self, path: list[int]) -> None:
        for x, y in pairwise(path):
            self._step(x, y, -1)

    def _cancel_edge_unit(self, u: int, w: int) -> None:
        """Take one unit off the vouch u -> w, with its whole path (or cycle)."""
        head = self._support_path(2 * u + 1, S, forward=False)
        tail = self._support_path(2 * w, T, forward=True)
        if head is not None and tail is not None and not set(head) & set(tail):
            self._cancel([*head, *tail])
            return
        cycle = self._support_path(2 * w, 2 * u + 1, forward=True)
        assert cycle is not None, "a unit on an edge lies on a path or a cycle"
        self._cancel([*cycle, 2 * w])

    # -- changes -------------------------------------------------------------------------

    def drop_edge(self, u: int, w: int) -> None:
        """Before the vouch u -> w leaves the network: cancel what it carries. An edge
        that carries nothing only takes residual paths away: the flow stays maximum and
        no exchange appears, so nothing is left to settle."""
        if self.fout.get(u, {}).get(w, 0) > 0:
            while self.fout.get(u, {}).get(w, 0) > 0:
                self._cancel_edge_unit(u, w)
            self._reach_t = None

    def set_rank(self, v: int, rank: int) -> None:
        if self.rank[v] != rank:
            self.rank[v] = rank
            if 2 * v in self._reaching:  # elsewhere no exchange can involve them
                self._reach_t = None

    def edge_added(self, u: int, w: int) -> None:
        """After the vouch u -> w joined: it matters only if ``w_in`` reaches T (a new
        augmenting path or exchange must continue from ``w_in`` to T)."""
        if self.gives(u) and self.rest(w) and 2 * w in self._reaching:
            self._reach_t = None

    def clear(self, v: int) -> None:
        """Cancel every unit through member ``v`` (before its role changes)."""
        for u in list(self.fin.get(v, ())):
            while self.fin.get(v, {}).get(u, 0) > 0:
                self._cancel_edge_unit(u, v)
        while self.source[v] and self.used[v] > 0:
            tail = self._support_path(2 * v + 1, T, forward=True)
            assert tail is not None, "a unit drawn from the supply reaches the sink"
            self._cancel([S, *tail])
        assert not self.fout.get(v) and not self.sunk[v] and self.passed[v] == 0
        self._reach_t = None

    def set_role(self, v: int, cap: int, source: bool, supply: int) -> None:
        """Give ``v`` a new capacity / source role; the flow through it must be cleared
        first, and so must the flow on edges that leave the network with it."""
        if (self.cap[v], self.source[v], self.supply[v]) == (cap, source, supply):
            return
        was_giving, was_rest = self.gives(v), self.rest(v)
        if self.fin.get(v) or self.fout.get(v) or self.used[v] or self.sunk[v]:
            self.clear(v)
        self.cap[v], self.source[v], self.supply[v] = cap, source, supply
        if was_rest and not self.rest(v):
            self.unsat.discard(v)
        elif self.rest(v):
            if not self.sunk[v]:
                self.unsat.add(v)
        assert was_giving or not self.fout.get(v)
        self._reach_t = None

    def augment(self) -> None:
        """Push units along residual paths until none is left (the flow is maximum), then
        exchange units until the members kept are the first maximal set (:meth:`_round`)."""
        while True:
            preds: dict[int, list[int]] = {}
            nxt, found = self._toward_sink(preds)
            if found:
                x = S
                while x != T:
                    y = nxt[x]
                    self._push_residual(x, y)
                    x = y
                continue
            if not self._round(nxt, preds):
                break
        self._reaching = set(nxt)
        self._reach_t = set(self.unsat)
        self.settled = self._reach_t

    def settle(self) -> None:
        """From a maximum flow computed elsewhere to the first maximal set."""
        self.augment()

    def _round(self, nxt: dict[int, int], preds: dict[int, list[int]]) -> bool:
        """One round of improving exchanges; False when there is none (the set is final).

        Every maximum flow keeps a unit with as many members; which members is decided by
        rank: the set kept is the first in rank order (a matroid's greedy basis, unique).
        It is reached from any maximum flow by exchanges: a unit kept by ``w`` moves, along
        a residual path ``w_in ~> v_in``, to a member ``v`` ranked before ``w`` who keeps
        none. When no such exchange is left the set is that first one (for a matroid a
        basis no single exchange improves is the best), and every exchange makes the set
        strictly better, so rounds end. Such paths run inside the nodes that reach T,
        which the last search found: each is labelled with the worst kept member that
        reaches it (worst first, so a node is labelled once, with a path back to it); the
        members who could do better take those paths, best ranked first, as long as the
        path is still open after the exchanges before it.
        """
        succ: dict[int, list[int]] = {}
        for y, xs in preds.items():
            if y == T:
                continue
            for x in xs:
                succ.setdefault(x, []).append(y)
        rank, sunk = self.rank, self.sunk
        starts = sorted(
            ((rank[x >> 1], x) for x in nxt if x >= 0 and not x & 1 and sunk[x >> 1]),
            reverse=True,
        )
        label: dict[int, int] = {}
        par: dict[int, int] = {}
        for r, start in starts:
            if start in label:
                continue
            label[start], par[start] = r, start
            frontier = [start]
            while frontier:
                new: list[int] = []
                for x in frontier:
                    for y in succ.get(x, ()):
                        if y not in label:
                            label[y], par[y] = r, x
                            new.append(y)
                frontier = new
        wanting = sorted((rank[v], v) for v in self.unsat if label.get(2 * v, -1) > rank[v])
        made = False
        for _, v in wanting:
            path = [2 * v]
            while par[path[-1]] != path[-1]:
                path.append(par[path[-1]])
            path.reverse()
            if self._open(path):
                self._exchange(path)
                made = True
            elif not self.sunk[v]:
                other = self._nearest_worse(v, NEAR)
                if other is not None:
                    self._exchange(other)
                    made = True
        return made

    def _nearest_worse(self, v: int, budget: int) -> list[int] | None:
        """A residual path to ``v_in`` from the nearest kept member ranked after ``v``,
        looking at no more than about ``budget`` nodes. :meth:`_preds` inlined: most of a
        full decision's settling is spent here (bench/RESULTS.md)."""
        start, r = 2 * v, self.rank[v]
        iptr, iidx = self.adj.iptr, self.adj.iidx
        source, supply, cap, passed = self.source, self.supply, self.cap, self.passed
        sunk, rank, fout, used = self.sunk, self.rank, self.fout, self.used
        par = {start: start}
        frontier = [start]
        while frontier and len(par) < budget:
            new: list[int] = []
            for y in frontier:
                w = y >> 1
                if y & 1 == 0:  # w_in: from the givers that vouch for w, and from w_out
                    for u in iidx[iptr[w] : iptr[w + 1]]:
                        x = 2 * u + 1
                        if x in par or not ((supply[u] > 0) if source[u] else (cap[u] > 1)):
                            continue
                        par[x] = y
                        new.append(x)
                    if passed[w] > 0 and y + 1 not in par:
                        par[y + 1] = y
                        new.append(y + 1)
                    continue
                if source[w]:
                    if used[w] < supply[w]:  # the source reaches it: no exchange via here
                        continue
                elif passed[w] < cap[w] - 1 and y - 1 not in par:
                    x = y - 1
                    par[x] = y
                    if sunk[w] and rank[w] > r:
                        return self._back(par, x, start)
                    new.append(x)
                for z in fout.get(w, ()):
                    x = 2 * z
                    if x in par:
                        continue
                    par[x] = y
                    if sunk[z] and rank[z] > r:
                        return self._back(par, x, start)
                    new.append(x)
            frontier = new
        return None

    @staticmethod
    def _back(par: dict[int, int], x: int, start: int) -> list[int]:
        path = [x]
        while path[-1] != start:
            path.append(par[path[-1]])
        return path

    def _open(self, path: list[int]) -> bool:
        """Whether an exchange path found before other exchanges is still usable."""
        if not self.sunk[path[0] >> 1] or self.sunk[path[-1] >> 1]:
            return False
        for x, y in pairwise(path):
            v = x >> 1
            if v == y >> 1:
                if x & 1 == 0 and self.passed[v] >= self.cap[v] - 1:
                    return False
                if x & 1 and self.passed[v] <= 0:
                    return False
            elif x & 1 == 0 and self.fout.get(y >> 1, {}).get(v, 0) <= 0:
                return False
        return True

    def _exchange(self, path: list[int]) -> None:
        """Move the unit kept at ``path[0]`` along the residual path to ``path[-1]``."""
        self._step(path[0], T, -1)
        for x, y in pairwise(path):
            self._push_residual(x, y)
        self._step(path[-1], T, 1)

    def unreached(self) -> set[int]:
        """Members of the rest who keep no unit of the settled flow: the flow does not
        reach them."""
        if self._reach_t is None:
            self.augment()
        assert self._reach_t is not None
        return self._reach_t
