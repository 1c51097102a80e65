"""The stated bound of the core rule (docs/trust.md), checked on random graphs.

k compromised non-seed members ("colluders") can bring in at most ``policy.bound(k)``
accepted members among those whose every vouching path from the seeds runs through
them: k × fakes_per_member while k is within ``policy.colluders``, k × (flat capacity - 1)
beyond. The dependents are computed here with plain networkx, independently of the
library, and the fakes' own vouches are drawn freely (any shape the attacker likes).
"""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trust_graph.conftest import build, digraphs
from trust_graph import EdgeKind, MemberKind, MemberStatus, Policy, TrustGraph

PASSING = {MemberStatus.ACTIVE, MemberStatus.APPLICANT}
BLOCKED = {MemberStatus.SUSPENDED, MemberStatus.REMOVED}


def reach(members, edges, status, seeds, without=frozenset()) -> set[str]:
    g = nx.DiGraph()
    g.add_nodes_from(m for m in members if status[m] not in BLOCKED and m not in without)
    g.add_edges_from((a, b) for a, b in edges if a in g and b in g and status[a] in PASSING)
    out: set[str] = set()
    for s in seeds:
        if s in g:
            out |= {s} | nx.descendants(g, s)
    return out


def dependents(members, edges, status, seeds, colluders) -> set[str]:
    """Members the seeds reach only through the colluders (fakes and honest alike)."""
    before = reach(members, edges, status, seeds)
    after = reach(members, edges, status, seeds, without=frozenset(colluders))
    return before - after - set(colluders)


@st.composite
def attacks(draw):
    members, edges, status = draw(digraphs(max_nodes=10, statuses=True))
    seeds = draw(st.lists(st.sampled_from(members), min_size=1, max_size=3, unique=True))
    others = [m for m in members if m not in seeds]
    if not others:
        others = [members[-1]]
        seeds = [s for s in seeds if s != others[0]] or [members[0]]
    colluders = draw(st.lists(st.sampled_from(others), min_size=1, max_size=4, unique=True))
    fakes = [f"zz{i:02d}" for i in range(draw(st.integers(1, 14)))]
    pairs = [(a, b) for a in [*colluders, *fakes] for b in fakes if a != b]
    pairs += [(f, m) for f in fakes for m in members]  # fakes may vouch for anyone
    fake_edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=60))
    # the strongest attacks: every colluder vouches for every fake, and colluders sit
    # right below a seed (core, with capacity to spare)
    if draw(st.booleans()):
        fake_edges = sorted({*fake_edges, *((c, f) for c in colluders for f in fakes)})
    if draw(st.booleans()):
        have = {(a, b) for a, b, _ in edges}
        edges = [
            *edges,
            *((seeds[0], c, EdgeKind.VOUCH) for c in colluders if (seeds[0], c) not in have),
        ]
    policy = Policy(
        fakes_per_member=draw(st.integers(1, 3)),
        colluders=draw(st.integers(1, 3)),
        expected_members=draw(st.integers(1, 40)),
    )
    return members, edges, status, seeds, colluders, fakes, fake_edges, policy


def plant(members, edges, status, fakes, fake_edges) -> TrustGraph:
    tg = build(members, edges, status)
    for f in fakes:
        tg.add_member(f, MemberKind.PROVIDER, MemberStatus.APPLICANT)
    for a, b in fake_edges:
        tg.vouch(a, b, EdgeKind.VOUCH)
    return tg


@settings(max_examples=250, deadline=None)
@given(attacks())
def test_k_colluders_never_bring_in_more_than_the_stated_bound(case):
    members, edges, status, seeds, colluders, fakes, fake_edges, policy = case
    tg = plant(members, edges, status, fakes, fake_edges)
    every_member = [*members, *fakes]
    every_status = {**status, **dict.fromkeys(fakes, MemberStatus.APPLICANT)}
    every_edge = [(a, b) for a, b, _ in edges] + list(fake_edges)
    behind = dependents(every_member, every_edge, every_status, seeds, colluders)
    admitted = tg.accepted(policy, seeds) & behind
    assert len(admitted) <= policy.bound(len(colluders))


@settings(max_examples=100, deadline=None)
@given(attacks())
def test_the_bound_holds_whatever_order_the_attack_arrives_in(case):
    """The same attack loaded in one batch decides the same as built edge by edge."""
    members, edges, status, seeds, _, fakes, fake_edges, policy = case
    tg = plant(members, edges, status, fakes, fake_edges)
    one_by_one = tg.accepted(policy, seeds)
    batch = TrustGraph()
    batch.extend(
        [(m, MemberKind.PROVIDER, status[m]) for m in members]
        + [(f, MemberKind.PROVIDER, MemberStatus.APPLICANT) for f in fakes],
        [(a, b, k, None) for a, b, k in edges]
        + [(a, b, EdgeKind.VOUCH, None) for a, b in fake_edges],
    )
    assert batch.accepted(policy, seeds) == one_by_one


def star(fakes: int, policy: Policy, colluders: int = 1) -> tuple[TrustGraph, set[str]]:
    """Seed s vouches for honest h1..h3; colluders c1.. are vouched by all three."""
    tg = TrustGraph()
    honest = ["s", "h1", "h2", "h3"]
    cs = [f"c{i}" for i in range(colluders)]
    fs = [f"f{i:03d}" for i in range(fakes)]
    tg.extend(
        [(m, MemberKind.PROVIDER, MemberStatus.ACTIVE) for m in honest + cs]
        + [(f, MemberKind.PROVIDER, MemberStatus.APPLICANT) for f in fs],
        [("s", h, EdgeKind.VOUCH, None) for h in honest[1:]]
        + [(h, c, EdgeKind.VOUCH, None) for h in honest[1:] for c in cs]
        + [(c, f, EdgeKind.VOUCH, None) for c in cs for f in fs],
    )
    return tg, set(fs)


def test_one_colluder_brings_in_exactly_fakes_per_member():
    policy = Policy(fakes_per_member=4)
    tg, fakes = star(50, policy)
    assert len(tg.accepted(policy, ["s"]) & fakes) == 4 == policy.bound(1)


def test_beyond_the_colluders_withstood_the_safety_net_bounds_them():
    """Three colluders make the fakes core; the flat flow still caps them at 3 × (f - 1)."""
    policy = Policy(fakes_per_member=2, colluders=2, expected_members=25)  # flat 5
    tg, fakes = star(100, policy, colluders=3)
    admitted = tg.accepted(policy, ["s"]) & fakes
    assert policy.flat_capacity == 5
    assert 0 < len(admitted) <= policy.bound(3) == 12
    assert len(admitted) > policy.colluders * policy.fakes_per_member  # the net is what binds


@settings(max_examples=80, deadline=None)
@given(attacks())
def test_no_single_member_carries_more_accepted_dependents_than_the_bound(case):
    """The bound is structural: it holds for every non-seed member, compromised or not."""
    members, edges, status, seeds, _, fakes, fake_edges, policy = case
    tg = plant(members, edges, status, fakes, fake_edges)
    for m in [*members, *fakes]:
        if m not in seeds:
            assert len(tg.blast_radius(m, policy, seeds).accepted) <= policy.bound(1)
