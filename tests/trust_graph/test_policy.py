"""The vetting rules on hand-built networks, and their explanations."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from networkx.algorithms.connectivity import local_node_connectivity

from tests.trust_graph.conftest import build, digraphs
from trust_graph import (
    EdgeKind,
    MemberKind,
    MemberStatus,
    Policy,
    TrustGraph,
    UnknownMember,
)

P = Policy()
BLOCKED = {MemberStatus.SUSPENDED, MemberStatus.REMOVED}
REF = EdgeKind.REFERENCE


def network(*members: tuple[str, MemberKind, MemberStatus]) -> TrustGraph:
    tg = TrustGraph()
    for name, kind, status in members:
        tg.add_member(name, kind, status)
    return tg


def base() -> TrustGraph:
    A = MemberStatus.ACTIVE
    return network(
        ("p1", MemberKind.PARTNER, A),
        ("p2", MemberKind.PARTNER, A),
        ("alice", MemberKind.PROVIDER, A),
        ("bob", MemberKind.PROVIDER, MemberStatus.POD),
        ("carol", MemberKind.PROVIDER, MemberStatus.APPLICANT),
        ("dave", MemberKind.PROVIDER, MemberStatus.APPLICANT),
    )


def test_vouch_from_accepted_full_member_admits():
    tg = base()
    tg.vouch("p1", "alice")
    tg.vouch("alice", "carol")
    d = tg.vet("carol", P, ["p1", "p2"], asking="p2")
    assert d.eligible
    assert "vouched_by_accepted" in d.codes and "flow_accepted" in d.codes
    assert d.shortest_path is None  # p2 has no path to carol
    assert d.disjoint_paths == (("p1", "alice", "carol"),)
    assert tg.vet("carol", P, ["p1", "p2"]).shortest_path == ("p1", "alice", "carol")


def test_pod_member_is_matched_but_cannot_vouch():
    tg = base()
    tg.vouch("p1", "bob")
    tg.vouch("bob", "carol")
    bob = tg.vet("bob", P, ["p1"])
    assert bob.eligible and bob.probation and "probation" in bob.codes
    carol = tg.vet("carol", P, ["p1"])
    assert not carol.eligible
    assert "insufficient_references" in carol.codes
    assert "unreachable" in carol.codes


def test_two_references_from_distinct_members_needed():
    tg = base()
    tg.vouch("p1", "alice")
    tg.vouch("alice", "carol", REF)
    assert not tg.vet("carol", P, ["p1"]).eligible
    tg.vouch("p1", "carol", REF)
    d = tg.vet("carol", P, ["p1"])
    assert d.eligible and "references_from_accepted" in d.codes


def test_refusal_names_the_member_all_support_runs_through():
    tg = base()
    tg.vouch("p1", "alice")
    tg.vouch("p2", "alice")
    tg.vouch("alice", "dave", REF)
    d = tg.vet("dave", P, ["p1", "p2"])
    assert not d.eligible
    assert d.cut == ("alice",)


def test_flow_caps_what_one_member_admits():
    tg = base()
    policy = Policy(capacities=(3, 2, 1), max_depth=3)
    tg.vouch("p1", "alice")  # alice at depth 1: capacity 2, passes 1 on
    for i in range(5):
        tg.add_member(f"f{i}", MemberKind.PROVIDER, MemberStatus.APPLICANT)
        tg.vouch("alice", f"f{i}")
    fakes = {f"f{i}" for i in range(5)} & tg.accepted(policy, ["p1"])
    assert len(fakes) == policy.capacity_at(1) - 1
    refused = [f for f in sorted({f"f{i}" for i in range(5)} - fakes)]
    assert "no_flow" in tg.vet(refused[0], policy, ["p1"]).codes


def test_organization_needs_two_independent_referees():
    A = MemberStatus.ACTIVE
    org = MemberKind.ORGANIZATION
    tg = network(
        ("p1", MemberKind.PARTNER, A),
        ("p2", MemberKind.PARTNER, A),
        ("orgA", org, A),
        ("orgB", org, A),
        ("orgC", org, A),
        ("new", org, A),
    )
    seeds = ["p1", "p2"]
    tg.vouch("p1", "orgA")  # partner intake
    tg.vouch("orgA", "new", REF)
    assert "introduced_by_partner" in tg.vet("orgA", P, seeds).codes
    assert tg.vet("new", P, seeds).codes == ("insufficient_org_references",)
    tg.vouch("p1", "orgB")
    tg.vouch("orgB", "new", REF)
    # two accepted referees, but both were brought in by p1: they count once
    d = tg.vet("new", P, seeds)
    assert not d.eligible and d.codes == ("dependent_references",)
    assert d.cut == ("p1",)
    tg.revoke("p1", "orgB")
    tg.vouch("p2", "orgB")
    d = tg.vet("new", P, seeds)
    assert d.eligible and d.codes == ("org_references",)
    assert len(d.disjoint_paths) == 2
    assert "orgC" not in tg.accepted(P, seeds)


def test_code_of_conduct_removal_drops_authored_edges_and_reports_orphans():
    tg = base()
    tg.vouch("p1", "alice")
    tg.vouch("alice", "carol")
    tg.vouch("carol", "dave")
    tg.vouch("p2", "dave")
    assert tg.impact("alice", ["p1", "p2"]) == ("carol",)
    impact = tg.remove_member("alice", ["p1", "p2"])
    assert impact.orphaned == ("carol",)
    assert impact.edges_dropped == 1
    assert tg.status("alice") == MemberStatus.REMOVED
    assert not tg.graph.has_edge("alice", "carol")
    d = tg.vet("alice", P, ["p1"])
    assert not d.eligible and d.codes == ("removed",)


def test_unknown_members_raise():
    tg = base()
    with pytest.raises(UnknownMember):
        tg.vet("nobody", P, ["p1"])
    with pytest.raises(UnknownMember):
        tg.vouch("p1", "nobody")
    with pytest.raises(UnknownMember):
        tg.accepted(P, ["nobody"])
    with pytest.raises(ValueError):
        tg.vouch("p1", "p1")


def test_networkx_model_follows_mutations():
    tg = base()
    tg.vouch("p1", "alice", REF)
    g = tg.graph
    assert g.nodes["bob"]["status"] == MemberStatus.POD
    assert g.edges["p1", "alice"]["kind"] == EdgeKind.REFERENCE
    tg.revoke("p1", "alice")
    assert not g.has_edge("p1", "alice")


@settings(max_examples=60, deadline=None)
@given(digraphs(statuses=True), st.data())
def test_decisions_do_not_depend_on_insertion_order(graph, data):
    members, edges, status = graph
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=2, unique=True))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    order, shuffled = members[:], edges[:]
    rng.shuffle(order)
    rng.shuffle(shuffled)
    one, two = build(members, edges, status), build(members, shuffled, status, order)
    policy = Policy(capacities=(4, 2, 1), max_depth=3, max_paths=2)
    assert one.accepted(policy, seeds) == two.accepted(policy, seeds)
    for m in members:
        assert one.vet(m, policy, seeds) == two.vet(m, policy, seeds)


def reference_accepted(tg: TrustGraph, seeds, policy: Policy, flow_ok) -> set[str]:
    """The rules as written, naively: a loop to the fixpoint, networkx for org paths."""
    g = tg.graph
    live = {m for m in g if g.nodes[m]["status"] not in BLOCKED}
    passing = {m for m in live if g.nodes[m]["status"] != MemberStatus.POD}
    is_org = {m for m in live if g.nodes[m]["kind"] == MemberKind.ORGANIZATION}
    seeds = {s for s in seeds if s in live}
    accepted = set(seeds) | {
        m
        for s in seeds
        for m in g.successors(s)
        if m in is_org - seeds and g.edges[s, m]["kind"] == EdgeKind.VOUCH
    }
    while True:
        grown = set(accepted)
        givers = accepted & passing
        for m in sorted(live - accepted):
            preds = [p for p in g.predecessors(m) if p in givers]
            if m in is_org:
                refs = [p for p in preds if p in is_org]
                if len(refs) < policy.organization_min_references:
                    continue
                h = g.subgraph(seeds | (givers & is_org) | {m}).copy()
                h.add_edges_from(("SUPER", s) for s in seeds)
                if local_node_connectivity(h, "SUPER", m) >= policy.organization_min_references:
                    grown.add(m)
            elif m in flow_ok:
                vouches = [p for p in preds if g.edges[p, m]["kind"] == EdgeKind.VOUCH]
                if vouches or len(preds) - len(vouches) >= policy.provider_min_references:
                    grown.add(m)
        if grown == accepted:
            return accepted
        accepted = grown


@settings(max_examples=120, deadline=None)
@given(digraphs(statuses=True), st.data())
def test_acceptance_matches_the_rules_written_naively(graph, data):
    members, edges, status = graph
    kinds = data.draw(
        st.lists(
            st.sampled_from([MemberKind.PROVIDER, MemberKind.ORGANIZATION, MemberKind.PARTNER]),
            min_size=len(members),
            max_size=len(members),
        )
    )
    tg = TrustGraph()
    for m, k in zip(members, kinds, strict=True):
        tg.add_member(m, k, status[m])
    for a, b, k in edges:
        tg.vouch(a, b, k)
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=3, unique=True))
    policy = Policy(capacities=(6, 3, 2), max_depth=3)
    flow_ok = tg.flow_accepted(policy, seeds)
    assert tg.accepted(policy, seeds) == reference_accepted(tg, seeds, policy, flow_ok)
