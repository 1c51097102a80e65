"""The core rule patched vouch by vouch equals a fresh computation, on random graphs.

Every layer is compared after every update (distances, core, who each flow reaches, the
accepted set), the patched flows are checked to be maximum flows of the new graph, and
the rule's meaning is checked against networkx: where trust is contested the flow reaches
the members nearest the seeds (then lowest numbered) that a maximum flow can serve.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.trust_graph.conftest import build, digraphs
from trust_graph import EdgeKind, MemberKind, MemberStatus, Policy, TrustGraph
from trust_graph.flow import core_rule, ranks, roles
from trust_graph.liveflow import LiveFlow, S, T
from trust_graph.policy import seed_numbers

POLICY = Policy(fakes_per_member=2, colluders=1, expected_members=9)  # capacity 3, net 3


def fresh(tg: TrustGraph, seeds, policy: Policy):
    snap = tg.snapshot
    return core_rule(snap, policy, seed_numbers(snap, tuple(sorted(set(seeds)))))


def assert_same(ours, theirs) -> None:
    assert ours.depth.tolist() == theirs.depth.tolist()
    a, b = ours.core, theirs.core
    assert a is not None and b is not None
    assert a.core.tolist() == b.core.tolist()
    assert a.core_vouchers.tolist() == b.core_vouchers.tolist()
    assert a.by_core.tolist() == b.by_core.tolist()
    assert a.by_flat.tolist() == b.by_flat.tolist()
    assert ours.accepted.tolist() == theirs.accepted.tolist()
    assert ours.capacity.tolist() == theirs.capacity.tolist()


def assert_maximum(flow: LiveFlow, n: int) -> None:
    """Capacities and conservation hold, and no augmenting path is left (networkx)."""
    net = nx.DiGraph()
    for v in range(n):
        if flow.source[v]:
            assert 0 <= flow.used[v] <= flow.supply[v]
            if flow.supply[v] > 0:
                net.add_edge(S, 2 * v + 1, capacity=flow.supply[v])
            assert sum(flow.fout.get(v, {}).values()) == flow.used[v]
            assert not flow.fin.get(v)
        elif flow.cap[v] > 0:
            assert 0 <= flow.passed[v] <= flow.cap[v] - 1
            net.add_edge(2 * v, T, capacity=1)
            net.add_edge(2 * v, 2 * v + 1, capacity=flow.cap[v] - 1)
            assert sum(flow.fin.get(v, {}).values()) == flow.passed[v] + flow.sunk[v]
            assert sum(flow.fout.get(v, {}).values()) == flow.passed[v]
        else:
            assert not flow.fin.get(v) and not flow.fout.get(v)
            continue
        if flow.gives(v):
            for w in flow.adj.oidx[flow.adj.optr[v] : flow.adj.optr[v + 1]]:
                if flow.rest(w):
                    net.add_edge(2 * v + 1, 2 * w)  # unbounded
    for u, outs in flow.fout.items():
        for w, f in outs.items():
            assert f > 0 and flow.gives(u) and flow.rest(w)
    net.add_nodes_from([S, T])
    value = sum(flow.sunk)
    assert nx.maximum_flow_value(net, S, T) == value


updates = st.lists(
    st.tuples(st.sampled_from(["vouch", "ref", "revoke"]), st.integers(0, 99), st.integers(0, 99)),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(digraphs(max_nodes=14, statuses=True), st.data(), updates)
def test_every_layer_after_updates_equals_a_fresh_computation(graph, data, ops):
    members, edges, status = graph
    tg = build(members, edges, status)
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=3, unique=True))
    policy = data.draw(st.sampled_from([POLICY, Policy(fakes_per_member=1, colluders=2)]))
    tg.accepted(policy, seeds)
    for op, i, j in ops:
        a, b = members[i % len(members)], members[j % len(members)]
        if a == b:
            continue
        if op == "revoke":
            tg.revoke(a, b)
        else:
            tg.vouch(a, b, EdgeKind.REFERENCE if op == "ref" else EdgeKind.VOUCH)
        entry = tg._cache[(policy, tuple(sorted(set(seeds))))]
        assert entry.live is not None, "a vouch or a revocation keeps the live flows"
        assert_same(entry.live.result, fresh(tg, seeds, policy))
        for flow in (entry.live.core_flow, entry.live.net):
            assert_maximum(flow, len(members))
        assert tg.accepted(policy, seeds) == build_fresh(tg).accepted(policy, seeds)


def build_fresh(tg: TrustGraph) -> TrustGraph:
    return TrustGraph.from_snapshot(tg.snapshot)


@settings(max_examples=60, deadline=None)
@given(digraphs(max_nodes=12), st.data(), st.randoms(use_true_random=False))
def test_same_decisions_whatever_order_the_updates_arrive_in(graph, data, rnd):
    members, edges, status = graph
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=2, unique=True))
    start = data.draw(st.lists(st.sampled_from(edges), unique=True)) if edges else []
    one, two = build(members, start, status), build(members, start, status)
    for tg in (one, two):
        tg.accepted(POLICY, seeds)
    target = {(a, b) for a, b, _ in edges}
    changes = [("vouch", a, b) for a, b in sorted(target)]
    changes += [("revoke", a, b) for a, b, _ in start if (a, b) not in target]
    shuffled = changes[:]
    rnd.shuffle(shuffled)
    for tg, seq in ((one, changes), (two, shuffled)):
        for op, a, b in seq:
            tg.vouch(a, b) if op == "vouch" else tg.revoke(a, b)
    assert one.accepted(POLICY, seeds) == two.accepted(POLICY, seeds)
    assert one.accepted(POLICY, seeds) == build_fresh(one).accepted(POLICY, seeds)


def reference_reached(tg: TrustGraph, seeds, policy: Policy) -> set[str]:
    """Members the core flow reaches, by the definition, with networkx: the greedy basis.

    Members of the rest are taken nearest the seeds first (then by number); each is
    reached when a maximum flow can keep a unit with them and with everyone taken before.
    """
    snap = tg.snapshot
    res = fresh(tg, seeds, policy)
    parts = res.core
    assert parts is not None
    depth = res.depth
    reached = depth >= 0
    src = parts.core
    cap = np.where(snap.status == list(MemberStatus).index(MemberStatus.POD), 1, 0)
    cap = np.where(cap == 1, 1, policy.member_capacity)

    def value(sinks: list[int]) -> int:
        g = nx.DiGraph()
        g.add_nodes_from(["S", "T"])
        for v in np.flatnonzero(reached).tolist():
            if src[v]:
                if cap[v] > 1:
                    g.add_edge("S", ("out", v), capacity=int(cap[v]) - 1)
                continue
            if cap[v] > 1:
                g.add_edge(("in", v), ("out", v), capacity=int(cap[v]) - 1)
        for v in sinks:
            g.add_edge(("in", v), "T", capacity=1)
        for u, w in zip(snap.src.tolist(), snap.dst.tolist(), strict=True):
            if reached[u] and reached[w] and not src[w] and cap[u] > 1:
                g.add_edge(("out", u), ("in", w))
        return int(nx.maximum_flow_value(g, "S", "T"))

    rest = [v for v in np.flatnonzero(reached & ~src).tolist()]
    taken: list[int] = []
    for v in sorted(rest, key=lambda v: (int(depth[v]), v)):
        if value([*taken, v]) == len(taken) + 1:
            taken.append(v)
    return {snap.ids[v] for v in np.flatnonzero(src).tolist()} | {snap.ids[v] for v in taken}


@settings(max_examples=100, deadline=None)
@given(digraphs(max_nodes=12, statuses=True), st.data())
def test_the_core_flow_reaches_the_first_members_a_maximum_flow_can_keep(graph, data):
    members, edges, status = graph
    tg = build(members, edges, status)
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=2, unique=True))
    res = fresh(tg, seeds, POLICY)
    assert res.core is not None
    ours = {tg.snapshot.ids[v] for v in np.flatnonzero(res.core.by_core).tolist()}
    assert ours == reference_reached(tg, seeds, POLICY)


@settings(max_examples=60, deadline=None)
@given(digraphs(max_nodes=12, statuses=True), st.data())
def test_vouching_never_costs_the_voucher_their_own_place(graph, data):
    """A member nearer the seeds comes first, so vouching for a newcomer who competes for
    the same trust never pushes the voucher out."""
    members, edges, status = graph
    tg = build(members, edges, status)
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=2, unique=True))
    before = tg.accepted(POLICY, seeds)
    assume(before)
    voucher = data.draw(st.sampled_from(sorted(before)))
    tg.add_member("zz-newcomer", MemberKind.PROVIDER, MemberStatus.APPLICANT)
    tg.vouch(voucher, "zz-newcomer")
    assert voucher in tg.accepted(POLICY, seeds)


@settings(max_examples=80, deadline=None)
@given(digraphs(max_nodes=10, statuses=True), st.data(), updates)
def test_literal_rules_after_updates_equal_a_fresh_run_with_organizations(graph, data, ops):
    """Vouches and references change the literal rules too; with organizations taking part
    they are re-run in full, without them patched: either way as a fresh run decides."""
    members, edges, status = graph
    kinds = data.draw(
        st.lists(
            st.sampled_from([MemberKind.PROVIDER] * 3 + [MemberKind.ORGANIZATION]),
            min_size=len(members),
            max_size=len(members),
        )
    )
    tg = TrustGraph()
    for m, k in zip(members, kinds, strict=True):
        tg.add_member(m, k, status[m])
    for a, b, k in edges:
        tg.vouch(a, b, k)
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=2, unique=True))
    tg.accepted(POLICY, seeds)
    for op, i, j in ops:
        a, b = members[i % len(members)], members[j % len(members)]
        if a == b:
            continue
        if op == "revoke":
            tg.revoke(a, b)
        else:
            tg.vouch(a, b, EdgeKind.REFERENCE if op == "ref" else EdgeKind.VOUCH)
        ours, theirs = tg._acceptance(POLICY, seeds), build_fresh(tg)._acceptance(POLICY, seeds)
        assert ours.accepted.tolist() == theirs.accepted.tolist()
        assert ours.vouches.tolist() == theirs.vouches.tolist()
        assert ours.references.tolist() == theirs.references.tolist()


@settings(max_examples=100, deadline=None)
@given(digraphs(max_nodes=12, statuses=True), st.data())
def test_any_maximum_flow_settles_to_the_same_members(graph, data):
    """Grown from nothing, in its own order, a flow still ends with the members the rule
    names (exchanges move the units there), whatever flow the solver started from."""
    members, edges, status = graph
    tg = build(members, edges, status)
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=2, unique=True))
    res = fresh(tg, seeds, POLICY)
    assert res.core is not None
    snap = tg.snapshot
    (cap, src, supply), _ = roles(snap, POLICY, res.depth, res.core.core)
    rank = ranks(res.depth).tolist()
    flow = LiveFlow(snap.adj, cap.tolist(), src.tolist(), supply.tolist(), rank)
    flow.augment()
    kept = {v for v in range(snap.n) if (flow.source[v] and flow.cap[v] > 0) or flow.sunk[v]}
    assert {snap.ids[v] for v in kept} == reference_reached(tg, seeds, POLICY)
    assert_maximum(flow, snap.n)
