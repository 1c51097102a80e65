"""The array Advogato flow against a reference built with plain networkx.

Max flows are not unique, so "matches the reference" means: the same flow value (one unit
per accepted member), and our accepted set is itself a feasible maximum — networkx still
finds the full value when only our accepted members may reach the sink.
"""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trust_graph.conftest import build, digraphs
from trust_graph import MemberStatus, Policy

BLOCKED = {MemberStatus.SUSPENDED, MemberStatus.REMOVED}
PASSING = {MemberStatus.ACTIVE, MemberStatus.APPLICANT}  # pods are matched but pass nothing


def reference_depths(members, edges, status, seeds, max_depth):
    g = nx.DiGraph()
    g.add_nodes_from(m for m in members if status[m] not in BLOCKED)
    g.add_edges_from((a, b) for a, b, _ in edges if a in g and b in g and status[a] in PASSING)
    start = [s for s in seeds if s in g]
    g.add_edges_from(("SUPER", s) for s in start)
    if not start:
        return {}
    dist = nx.single_source_shortest_path_length(g, "SUPER", cutoff=max_depth + 1)
    return {m: d - 1 for m, d in dist.items() if m != "SUPER" and d - 1 <= max_depth}


def reference_network(members, edges, status, seeds, policy, allowed_sink=None):
    depth = reference_depths(members, edges, status, seeds, policy.max_depth)
    cap = {m: policy.capacity_at(d) for m, d in depth.items()}
    for m in cap:
        if status[m] == MemberStatus.POD:
            cap[m] = 1
    net = nx.DiGraph()
    for s in seeds:
        if s in cap:
            net.add_edge("SRC", ("in", s), capacity=cap[s])
    for m, c in cap.items():
        if allowed_sink is None or m in allowed_sink:
            net.add_edge(("in", m), "SINK", capacity=1)
        if c > 1:
            net.add_edge(("in", m), ("out", m), capacity=c - 1)
    for a, b, _ in edges:
        if cap.get(a, 0) > 1 and b in cap:
            net.add_edge(("out", a), ("in", b))  # no capacity attribute: unbounded
    net.add_nodes_from(["SRC", "SINK"])
    return net, depth


@settings(max_examples=150, deadline=None)
@given(digraphs(statuses=True), st.data())
def test_flow_matches_networkx_reference(graph, data):
    members, edges, status = graph
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=2, unique=True))
    caps = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    policy = Policy(capacities=tuple(caps), max_depth=data.draw(st.integers(0, 4)))
    tg = build(members, edges, status)
    ours = tg.flow_accepted(policy, seeds)

    net, depth = reference_network(members, edges, status, seeds, policy)
    value = nx.maximum_flow_value(net, "SRC", "SINK")
    assert len(ours) == value
    assert ours <= set(depth)
    restricted, _ = reference_network(members, edges, status, seeds, policy, allowed_sink=ours)
    assert nx.maximum_flow_value(restricted, "SRC", "SINK") == value

    acc = tg._acceptance(policy, seeds)  # the depths the capacities came from
    snap = tg.snapshot
    got = {snap.ids[i]: int(d) for i, d in enumerate(acc.flow.depth.tolist()) if d >= 0}
    assert got == depth
