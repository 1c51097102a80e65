"""Sybil attacks on the real Advogato certification graph (2014 dump), default policy.

The small CI version of bench/sybil.py: compromised members at distance 1, 2 and 3 from
Advogato's seeds vouch for the same 1,000 fakes, in each attack shape. The default policy
must keep at least 90 % of the members reachable from the seeds and hold the bound it
states (docs/trust.md): k colluders bring in at most ``Policy().bound(k)``.
"""

from __future__ import annotations

import json
import random

import pytest

from trust_graph import MemberStatus, Policy, TrustGraph
from trust_graph.attacks import SHAPES, candidates, plant
from trust_graph.formats import load
from trust_graph.policy import seed_numbers
from trust_graph.snapshot import bfs_levels

SEEDS = ("alan", "federico", "miguel", "raph")  # Advogato's own seed set from 2000
POLICY = Policy()
FAKES = 1000


@pytest.fixture(scope="module")
def honest(data_dir):
    """The real graph's snapshot and what the default policy accepts on it."""
    snap = load(data_dir / "advogato-graph-2014-06.dot").snapshot
    tg = TrustGraph.from_snapshot(snap)
    return snap, tg.accepted(POLICY, SEEDS), tg


def attack(snap, colluders, shape, seed, policy=POLICY):
    tg = TrustGraph.from_snapshot(snap)
    fakes = plant(tg, colluders, FAKES, shape, random.Random(seed))
    return tg.accepted(policy, SEEDS), fakes


def test_default_policy_keeps_the_honest_network(honest):
    snap, accepted, _ = honest
    nums = seed_numbers(snap, SEEDS)
    reach = int((bfs_levels(snap.indptr, snap.dst, nums, ~snap.excluded, snap.passable) >= 0).sum())
    assert reach == 4273
    print(json.dumps({"accepted": len(accepted), "reachable": reach}))
    assert len(accepted) / reach >= 0.90


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("distance", [1, 2, 3])
@pytest.mark.parametrize("count", [1, 2])
def test_colluders_bring_in_at_most_the_stated_bound(honest, shape, distance, count):
    snap, before, tg = honest
    rng = random.Random(f"{shape}-{distance}-{count}")
    colluders = sorted(rng.sample(candidates(tg, POLICY, SEEDS, distance), count))
    accepted, fakes = attack(snap, colluders, shape, rng.random())
    admitted = accepted & fakes
    print(json.dumps({"colluders": colluders, "fakes": len(admitted)}))
    assert len(admitted) <= POLICY.bound(count) <= 25
    assert set(colluders) <= accepted
    # fakes can only displace honest members one for one, never add beyond the bound
    assert len(accepted) <= len(before) + POLICY.bound(count)


def test_three_colluders_stay_within_the_safety_net(honest):
    """Beyond the two colluders withstood, the fakes can become core; the net binds."""
    snap, _, tg = honest
    colluders = candidates(tg, POLICY, SEEDS, 1)[:3]
    accepted, fakes = attack(snap, colluders, "mesh", 3)
    assert len(accepted & fakes) <= POLICY.bound(3)


def test_expert_schedule_still_bounds_by_capacity(honest):
    snap, _, _ = honest
    legacy = Policy(capacities=(800, 200, 50, 12, 4, 2, 1), max_depth=6)
    tg = TrustGraph.from_snapshot(snap)
    (attacker,) = candidates(tg, legacy, SEEDS, 2)[:1]
    accepted, fakes = attack(snap, [attacker], "mesh", 2, legacy)
    assert len(accepted & fakes) <= legacy.capacity_at(2) - 1


def test_literal_rule_alone_would_admit_every_fake(honest):
    """Why the flow is needed: under the one-vouch rule every fake is in."""
    snap, _, tg = honest
    (attacker,) = candidates(tg, POLICY, SEEDS, 3)[:1]
    tg = TrustGraph.from_snapshot(snap)
    fakes = plant(tg, [attacker], FAKES, "mesh", random.Random(3))
    acc = tg._acceptance(POLICY, SEEDS)
    ids = tg.snapshot.ids
    literal_ok = {ids[i] for i, n in enumerate(acc.vouches.tolist()) if n >= 1}
    assert fakes <= literal_ok
    assert len(tg.accepted(POLICY, SEEDS) & fakes) <= POLICY.bound(1)


def test_pod_attacker_admits_nobody(honest):
    snap, _, tg = honest
    (attacker,) = candidates(tg, POLICY, SEEDS, 2)[:1]
    tg = TrustGraph.from_snapshot(snap)
    tg.set_status(attacker, MemberStatus.POD)
    fakes = plant(tg, [attacker], FAKES, "mesh", random.Random(5))
    assert not tg.accepted(POLICY, SEEDS) & fakes
