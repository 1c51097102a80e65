"""Sybil attacks to plant in a trust graph: for the attack tests and bench/sybil.py.

Compromised members ("colluders") all vouch for the same fakes; the fakes then vouch for
each other in one of three shapes. Everything here is deterministic given its
``random.Random``, so a run can be repeated exactly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from trust_graph.graph import TrustGraph
from trust_graph.model import EdgeKind, MemberKind, MemberStatus, Policy

SHAPES = ("mesh", "leaves", "pairs")


def fake_edges(
    colluders: Sequence[str], fakes: Sequence[str], shape: str, rng: random.Random
) -> list[tuple[str, str]]:
    """Vouches of one attack.

    ``mesh``: each fake also vouches for 5 random other fakes. ``leaves``: fakes vouch
    for nobody. ``pairs``: each fake is also vouched for by the two fakes before it, so
    every fake has two fake vouchers on top of the colluders (the shape that would grow a
    core among the fakes if colluders' vouches were enough to start one).
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown attack shape: {shape!r}")
    edges = [(c, f) for c in colluders for f in fakes]
    if shape == "mesh":
        for f in fakes:
            edges += [(f, o) for o in rng.sample(fakes, 6) if o != f][:5]
    elif shape == "pairs":
        for i, f in enumerate(fakes):
            edges += [(fakes[i - j], f) for j in (1, 2) if i - j >= 0]
    return edges


def plant(
    tg: TrustGraph,
    colluders: Sequence[str],
    count: int,
    shape: str,
    rng: random.Random,
    prefix: str = "sybil",
) -> set[str]:
    """Add ``count`` fake applicants vouched for by every colluder; returns their ids."""
    fakes = [f"{prefix}{i:05d}" for i in range(count)]
    edges = fake_edges(colluders, fakes, shape, rng)
    tg.extend(
        [(f, MemberKind.PROVIDER, MemberStatus.APPLICANT) for f in fakes],
        [(a, b, EdgeKind.VOUCH, None) for a, b in edges],
    )
    return set(fakes)


def candidates(tg: TrustGraph, policy: Policy, seeds: Sequence[str], distance: int) -> list[str]:
    """Accepted non-seed members at ``distance`` hops from the seeds, in id order."""
    acc = tg._acceptance(policy, seeds)
    depth = acc.flow.depth
    if policy.scheduled:  # its depths stop at max_depth: measure distance without a limit
        from trust_graph.snapshot import bfs_levels

        snap = tg.snapshot
        depth = bfs_levels(snap.indptr, snap.dst, acc.seeds, ~snap.excluded, snap.passable)
    ids = tg.snapshot.ids
    seedset = set(seeds)
    return [
        ids[i]
        for i in np.flatnonzero((depth == distance) & acc.accepted).tolist()
        if ids[i] not in seedset
    ]
