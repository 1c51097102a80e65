"""Path searches against plain networkx on small random graphs."""

from __future__ import annotations

import itertools

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st
from networkx.algorithms.connectivity import local_node_connectivity

from tests.trust_graph.conftest import build, digraphs, to_nx
from trust_graph.paths import disjoint_paths

SETTINGS = settings(max_examples=150, deadline=None)


def _check_disjoint(g: nx.DiGraph, paths, sources, t) -> None:
    inner_seen: set[str] = set()
    for p in paths:
        assert p[0] in sources and p[-1] == t
        assert all(g.has_edge(a, b) for a, b in itertools.pairwise(p)), p
        inner = set(p[1:-1]) if len(sources) == 1 else set(p[:-1])
        assert len(inner) == len(p[1:-1] if len(sources) == 1 else p[:-1])  # simple path
        assert not inner & inner_seen, paths
        inner_seen |= inner


@SETTINGS
@given(digraphs(), st.data())
def test_shortest_path_matches_networkx(graph, data):
    members, edges, status = graph
    tg, g = build(members, edges, status), to_nx(members, edges)
    s, t = data.draw(st.sampled_from(members)), data.draw(st.sampled_from(members))
    path = tg.shortest_path(s, t)
    if nx.has_path(g, s, t):
        assert path is not None and path[0] == s and path[-1] == t
        assert len(path) - 1 == nx.shortest_path_length(g, s, t)
        assert all(g.has_edge(a, b) for a, b in itertools.pairwise(path))
    else:
        assert path is None


@SETTINGS
@given(digraphs(), st.data(), st.integers(min_value=1, max_value=3))
def test_disjoint_paths_count_equals_local_node_connectivity(graph, data, k):
    members, edges, status = graph
    tg, g = build(members, edges, status), to_nx(members, edges)
    s = data.draw(st.sampled_from(members))
    t = data.draw(st.sampled_from([m for m in members if m != s]))
    paths = tg.disjoint_paths(s, t, k)
    assert len(paths) == min(k, local_node_connectivity(g, s, t))
    _check_disjoint(g, paths, {s}, t)


@SETTINGS
@given(digraphs(), st.data())
def test_seed_set_paths_and_cut_match_networkx(graph, data):
    members, edges, status = graph
    tg, g = build(members, edges, status), to_nx(members, edges)
    seeds = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=3, unique=True))
    t = data.draw(st.sampled_from([m for m in members if m not in seeds] or [None]))
    if t is None:
        return
    h = g.copy()
    h.add_edges_from(("SUPER", s) for s in seeds)
    expected = local_node_connectivity(h, "SUPER", t)
    snap = tg.snapshot
    res = disjoint_paths(
        snap.adj,
        [snap.index[s] for s in seeds],
        snap.index[t],
        16,
        want_cut=True,
        super_source=True,
    )
    paths = [[snap.ids[i] for i in p] for p in res.paths]
    assert len(paths) == min(16, expected)
    _check_disjoint(g, paths, set(seeds), t)
    cut = [snap.ids[i] for i in res.cut]
    assert len(cut) == expected
    cut_graph = h.copy()
    cut_graph.remove_nodes_from(cut)
    assert not nx.has_path(cut_graph, "SUPER", t)
