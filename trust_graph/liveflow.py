"""A maximum flow of the core rule's "sources and the rest" network, kept up to date.

The network (see :func:`trust_graph.flow.core_rule`): ``S -> v_out`` (``supply[v]``) for
each source; for every other member of the network ``v_in -> T`` (1) and ``v_in -> v_out``
(``cap[v] - 1``); a vouch ``u -> w`` is ``u_out -> w_in`` (unbounded) when ``u`` gives and
``w`` is not a source. The residual graph is never built: it is read from the flow state
and the snapshot's adjacency lists, so a repair touches only what it explores.

Who the flow reaches does not depend on which maximum flow is held: a member is reached
when *every* maximum flow leaves a unit with them, which is when their ``v_in`` cannot
reach ``T`` in the residual graph of a maximum flow (that set of nodes is the same for all
maximum flows). So a flow patched after a change and one computed from scratch give the
same answer (docs/trust.md, "The rule").
"""

from __future__ import annotations

from collections.abc import Iterable

from trust_graph.snapshot import Adjacency

S = -1  # the source
T = -2  # the sink


class LiveFlow:
    """Flow state per member; ``2v`` is ``v_in``, ``2v + 1`` is ``v_out``."""

    def __init__(
        self, adj: Adjacency, cap: list[int], source: list[bool], supply: list[int]
    ) -> None:
        self.adj = adj
        self.cap, self.source, self.supply = cap, source, supply
        n = len(cap)
        self.used = [0] * n  # sources: units drawn from the supply
        self.passed = [0] * n  # the rest: units passed on
        self.sunk = [False] * n  # the rest: keeps its own unit
        self.fout: dict[int, dict[int, int]] = {}
        self.fin: dict[int, dict[int, int]] = {}
        self.unsat = {v for v in range(n) if cap[v] > 0 and not source[v]}
        self.kept = 0  # units kept, the value of the flow
        self.touched: set[int] = set()  # members whose ``passed`` changed since last asked
        self._reach_t: set[int] | None = None
        self.settled: set[int] = set()  # the last answer of :meth:`unreached`
        self._journal: list[tuple[int, int, int]] | None = None  # undo log of a trial

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
            self.kept += 1
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
        if self._journal is not None:
            self._journal.append((x, y, delta))
        if x == S:
            self.used[y >> 1] += delta
            self.touched.add(y >> 1)
        elif y == T:
            v = x >> 1
            self.kept += delta
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
        ``record`` collects, per node, every residual predecessor scanned (for dominators).
        """
        adj = self.adj
        iptr, iidx = adj.iptr, adj.iidx
        cap, source, supply, used, passed = (
            self.cap,
            self.source,
            self.supply,
            self.used,
            self.passed,
        )
        fout = self.fout
        nxt: dict[int, int] = {}
        frontier: list[int] = []
        for v in sorted(self.unsat):
            nxt[2 * v] = T
            frontier.append(2 * v)
        if record is not None:
            record[T] = frontier[:]
        while frontier:
            new: list[int] = []
            for y in frontier:
                v = y >> 1
                preds: list[int] = []
                if y & 1 == 0:  # v_in of a member of the rest
                    for u in iidx[iptr[v] : iptr[v + 1]]:
                        if (supply[u] > 0) if source[u] else (cap[u] > 1):
                            preds.append(2 * u + 1)
                    if passed[v] > 0:
                        preds.append(y + 1)
                else:
                    if source[v]:
                        if used[v] < supply[v]:
                            nxt[S] = y
                            return nxt, True
                    elif passed[v] < cap[v] - 1:
                        preds.append(y - 1)
                    preds.extend(2 * w for w in fout.get(v, ()))
                for x in preds:
                    if x not in nxt:
                        nxt[x] = y
                        new.append(x)
                if record is not None:
                    record[y] = preds
            frontier = new
        return nxt, False

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
        for x, y in zip(path, path[1:], strict=False):
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
        """Before the vouch u -> w leaves the network: cancel what it carries."""
        while self.fout.get(u, {}).get(w, 0) > 0:
            self._cancel_edge_unit(u, w)
        self._reach_t = None

    def edge_added(self) -> None:
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

    def _augment_once(self) -> tuple[bool, dict[int, int], dict[int, list[int]]]:
        preds: dict[int, list[int]] = {}
        nxt, found = self._toward_sink(preds)
        if found:
            x = S
            while x != T:
                y = nxt[x]
                self._push_residual(x, y)
                x = y
        return found, nxt, preds

    def augment(self) -> None:
        """Push units along residual paths until none is left (the flow is maximum), then
        judge who the flow reaches."""
        while True:
            found, nxt, preds = self._augment_once()
            if not found:
                break
        self._reach_t = self._judge(nxt, preds)
        self.settled = self._reach_t

    def _judge(self, nxt: dict[int, int], preds: dict[int, list[int]]) -> set[int]:
        """Members of the rest that some maximum flow gives nothing at all.

        Whoever's ``v_in`` cannot reach T keeps a unit in every maximum flow. Of the rest,
        a member this flow gives nothing is out. A member holding exactly its own unit,
        from one voucher ``u``, is out when ``u_out`` reaches T around them: then the
        cycle T -> v_in -> u_out ~> T gives that unit to someone else (and it is the only
        way, as the flow into them must drop by one). Anyone else is tried: take away
        every unit through them, and see whether the flow recovers without them.
        """
        out: set[int] = set()
        single: list[tuple[int, int]] = []
        for x in nxt:
            if x < 0 or x & 1:
                continue
            v = x >> 1
            fin = self.fin.get(v)
            if not fin:
                out.add(v)
            elif self.sunk[v] and self.passed[v] == 0 and len(fin) == 1:
                ((u, f),) = fin.items()
                if f == 1:
                    single.append((v, u))
                else:
                    raise AssertionError("one unit in, one kept")
            elif not self._needed(v):
                out.add(v)
        if single:
            idom = _dominators(preds)
            for v, u in single:
                x, dominated = 2 * u + 1, False
                while x != T:
                    x = idom[x]
                    if x == 2 * v:
                        dominated = True
                        break
                if not dominated:
                    out.add(v)
        return out

    def _needed(self, v: int) -> bool:
        """Whether the maximum drops without ``v``: a trial, undone afterwards."""
        role = (self.cap[v], self.source[v], self.supply[v])
        touched, settled, reach = set(self.touched), self.settled, self._reach_t
        self._journal = journal = []
        value = self.kept
        self.set_role(v, 0, False, 0)
        lost = value - self.kept
        recovered = 0
        while recovered < lost and self._augment_once()[0]:
            recovered += 1
        self._journal = None
        for x, y, d in reversed(journal):
            self._step(x, y, -d)
        self.cap[v], self.source[v], self.supply[v] = role
        if self.rest(v) and not self.sunk[v]:
            self.unsat.add(v)
        self.touched, self.settled, self._reach_t = touched, settled, reach
        return recovered < lost

    def unreached(self) -> set[int]:
        """Members of the rest whom some maximum flow gives nothing: the flow does not
        reach them (it would carry as much without them)."""
        if self._reach_t is None:
            self.augment()
        assert self._reach_t is not None
        return self._reach_t


def _dominators(preds: dict[int, list[int]]) -> dict[int, int]:
    """Immediate dominators on the way to T (Cooper, Harvey and Kennedy's iteration).

    ``preds[y]`` lists the nodes with a residual edge into ``y``; read backwards from T
    this is a graph rooted at T, and ``x``'s dominators are the nodes every residual
    path from ``x`` to T passes.
    """
    order: list[int] = []
    index: dict[int, int] = {}
    seen = {T}
    stack = [(T, iter(preds.get(T, ())))]
    while stack:
        node, it = stack[-1]
        for x in it:
            if x not in seen:
                seen.add(x)
                stack.append((x, iter(preds.get(x, ()))))
                break
        else:
            stack.pop()
            index[node] = len(order)
            order.append(node)
    succ: dict[int, list[int]] = {}
    for y, xs in preds.items():
        for x in xs:
            succ.setdefault(x, []).append(y)
    idom = {T: T}

    def meet(a: int, b: int) -> int:
        while a != b:
            while index[a] < index[b]:
                a = idom[a]
            while index[b] < index[a]:
                b = idom[b]
        return a

    changed = True
    while changed:
        changed = False
        for node in reversed(order):
            if node == T:
                continue
            new: int | None = None
            for p in succ.get(node, ()):
                if p in idom:
                    new = p if new is None else meet(p, new)
            assert new is not None
            if idom.get(node) != new:
                idom[node] = new
                changed = True
    return idom
