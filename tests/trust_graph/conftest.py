"""Helpers shared by the trust graph tests: random graphs as hypothesis strategies."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import strategies as st

from trust_graph import EdgeKind, MemberKind, MemberStatus, TrustGraph

DATA = Path("/work/shared/data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"trust datasets not present at {DATA}")
    return DATA


@st.composite
def digraphs(draw, max_nodes: int = 10, statuses: bool = False):
    """(members, edges, statuses) for a small random directed graph without self-loops."""
    n = draw(st.integers(min_value=2, max_value=max_nodes))
    members = [f"m{i:02d}" for i in range(n)]
    pairs = [(a, b) for a in members for b in members if a != b]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=min(len(pairs), 40)))
    kinds = {
        e: draw(st.sampled_from([EdgeKind.VOUCH, EdgeKind.REFERENCE]))
        if statuses
        else EdgeKind.VOUCH
        for e in edges
    }
    if statuses:
        choice = st.sampled_from(
            [MemberStatus.ACTIVE] * 4
            + [MemberStatus.POD, MemberStatus.APPLICANT, MemberStatus.SUSPENDED]
        )
        status = {m: draw(choice) for m in members}
    else:
        status = dict.fromkeys(members, MemberStatus.ACTIVE)
    return members, [(a, b, kinds[(a, b)]) for a, b in edges], status


def build(members, edges, status, order=None) -> TrustGraph:
    tg = TrustGraph()
    for m in order or members:
        tg.add_member(m, MemberKind.PROVIDER, status[m])
    for a, b, k in edges:
        tg.vouch(a, b, k)
    return tg


def to_nx(members, edges) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(members)
    g.add_edges_from((a, b) for a, b, _ in edges)
    return g
