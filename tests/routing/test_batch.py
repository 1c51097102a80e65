"""Batch matching: checked against brute force and a networkx min-cost flow."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.routing import (
    Assignment,
    RequestProfile,
    Tier,
    Unassigned,
    Urgency,
    batch_assign,
    ineligibility,
    rank,
)
from coordinator.routing.reference import flow_assign, greedy_assign
from coordinator.routing.scoring import MAX_TOTAL, score
from coordinator.routing.synthetic import network
from tests.routing.strategies import providers, requests
from tests.routing.test_rank import provider, request, trusted


def counts(assignment: Assignment, reqs: list[RequestProfile]) -> tuple[int, ...]:
    """Assigned requests per urgency, most urgent first: the lexicographic key."""
    urgency = {r.id: r.urgency for r in reqs}
    got = assignment.coverage(urgency)
    return tuple(got[u] for u in sorted(Urgency, reverse=True))


def check_invariants(assignment: Assignment, reqs, providers_, trust, explained=True) -> None:
    by_id = {p.id: p for p in providers_}
    assert set(assignment.assigned) | set(assignment.unassigned) == {r.id for r in reqs}
    assert not set(assignment.assigned) & set(assignment.unassigned)
    load = Counter(assignment.assigned.values())
    for pid, taken in load.items():
        assert taken <= by_id[pid].free, f"{pid} over capacity"
    total = 0
    for r in reqs:
        if r.id in assignment.assigned:
            p = by_id[assignment.assigned[r.id]]
            assert ineligibility(r, p, trust.get(p.id)) is None
            if explained:
                why = assignment.candidates[r.id]
                assert why.provider == p.id
                assert why.score == score(r, p, trust[p.id])
            total += MAX_TOTAL - score(r, p, trust[p.id]).total
        else:
            reason = assignment.unassigned[r.id]
            assert (reason is Unassigned.NO_CANDIDATE) == (rank(r, providers_, trust) == [])
    assert assignment.total_cost == total


def brute_force(reqs, providers_, trust) -> tuple[tuple[int, ...], int]:
    """The best (urgency counts, -cost) over every capacity-respecting assignment."""
    options = []
    for r in reqs:
        eligible = [
            (p.id, MAX_TOTAL - c.score.total) for p in providers_ for c in rank(r, [p], trust)
        ]
        options.append([None, *eligible])
    free = {p.id: p.free for p in providers_}
    best: tuple | None = None
    for choice in itertools.product(*options):
        taken = Counter(pid for pid, _ in filter(None, choice))
        if any(n > free[pid] for pid, n in taken.items()):
            continue
        served = Counter(r.urgency for r, c in zip(reqs, choice, strict=True) if c)
        key = (
            tuple(served[u] for u in sorted(Urgency, reverse=True)),
            -sum(c[1] for c in choice if c),
        )
        if best is None or key > best:
            best = key
    assert best is not None
    return best[0], -best[1]


@settings(max_examples=150, deadline=None)
@given(
    st.booleans().flatmap(
        lambda dense: st.tuples(
            providers(max_providers=3, max_capacity=2, dense=dense),
            requests(max_requests=5, dense=dense),
        )
    )
)
def test_equals_brute_force_on_tiny_instances(instance) -> None:
    pool, reqs = instance
    providers_, trust = pool
    got = batch_assign(reqs, providers_, trust)
    check_invariants(got, reqs, providers_, trust)
    best_counts, best_cost = brute_force(reqs, providers_, trust)
    assert counts(got, reqs) == best_counts
    assert got.total_cost == best_cost


@settings(max_examples=60, deadline=None)
@given(
    st.booleans().flatmap(
        lambda dense: st.tuples(
            providers(max_providers=6, max_capacity=3, dense=dense),
            requests(max_requests=14, dense=dense),
        )
    )
)
def test_equals_networkx_min_cost_flow(instance) -> None:
    pool, reqs = instance
    providers_, trust = pool
    got = batch_assign(reqs, providers_, trust)
    check_invariants(got, reqs, providers_, trust)
    reference = flow_assign(reqs, providers_, trust)
    assert counts(got, reqs) == counts(reference, reqs)
    assert len(got.assigned) == len(reference.assigned)  # coverage equals the max flow
    assert got.total_cost == reference.total_cost


def test_urgent_request_takes_the_last_slot() -> None:
    p = provider("p1", capacity=1)
    low = request(id="low", urgency=Urgency.LOW)
    critical = request(id="crit", urgency=Urgency.CRITICAL, filed_at=low.filed_at.replace(day=9))
    got = batch_assign([low, critical], [p], {"p1": trusted("p1")})
    assert got.assigned == {"crit": "p1"}
    assert got.unassigned == {"low": Unassigned.CAPACITY}


def test_global_assignment_beats_greedy_coverage() -> None:
    # Greedy gives the flexible, older request its best provider, the only one the
    # second request could use; the global assignment serves both.
    flexible = provider(
        "a-flex", regions=frozenset({"US-CA"}), capacity=1, skills=frozenset({"phishing"})
    )
    narrow = provider(
        "b-only", regions=frozenset({"US-NY"}), capacity=1, skills=frozenset({"osint"})
    )
    first = request(id="r1", skills=frozenset(), languages=frozenset(), region="US-NY")
    second = request(
        id="r2",
        skills=frozenset({"osint"}),
        languages=frozenset(),
        region="US-NY",
        filed_at=first.filed_at.replace(day=2),
    )
    pool = [flexible, narrow]
    trust = {"a-flex": trusted("a-flex"), "b-only": trusted("b-only")}
    greedy = greedy_assign([first, second], pool, trust)
    best = batch_assign([first, second], pool, trust)
    assert greedy.assigned == {"r1": "b-only"}
    assert best.assigned == {"r1": "a-flex", "r2": "b-only"}
    check_invariants(best, [first, second], pool, trust)


def test_cost_is_minimized_when_coverage_ties() -> None:
    ours = provider("ours", capacity=1)
    theirs = provider("theirs", capacity=1)
    trust = {"ours": trusted("ours"), "theirs": trusted("theirs", via="partner-b")}
    mine = request(id="mine", asking_partner="partner-a")
    other = request(id="other", asking_partner="partner-b")
    got = batch_assign([mine, other], [ours, theirs], trust)
    # Each request gets the provider from its own community.
    assert got.assigned == {"mine": "ours", "other": "theirs"}


def test_declined_providers_are_excluded_per_request() -> None:
    pool = [provider("p1"), provider("p2", tier=Tier.SPECIALIST)]
    trust = {p.id: trusted(p.id) for p in pool}
    got = batch_assign([request(id="r")], pool, trust, exclude={"r": {"p1"}})
    assert got.assigned == {"r": "p2"}
    none_left = batch_assign([request(id="r")], pool, trust, exclude={"r": {"p1", "p2"}})
    assert none_left.unassigned == {"r": Unassigned.NO_CANDIDATE}


def test_empty_inputs_and_duplicate_ids() -> None:
    assert batch_assign([], [], {}).assigned == {}
    assert batch_assign([request()], [], {}).unassigned == {"req-1": Unassigned.NO_CANDIDATE}
    full = provider("p1", load=2)
    assert batch_assign([request()], [full], {"p1": trusted("p1")}).unassigned == {
        "req-1": Unassigned.NO_CANDIDATE
    }
    with pytest.raises(ValueError, match="unique"):
        batch_assign([request(), replace(request(), urgency=Urgency.HIGH)], [], {})


def test_synthetic_network_against_flow_and_greedy() -> None:
    net = network(n_requests=160, n_providers=30, seed=7)
    reqs = list(net.requests)
    got = batch_assign(reqs, net.providers, net.trust)
    check_invariants(got, reqs, net.providers, net.trust)
    reference = flow_assign(reqs, net.providers, net.trust)
    greedy = greedy_assign(reqs, net.providers, net.trust)
    check_invariants(greedy, reqs, net.providers, net.trust, explained=False)
    assert counts(got, reqs) == counts(reference, reqs)
    assert got.total_cost == reference.total_cost
    assert counts(got, reqs) >= counts(greedy, reqs)
    assert len(got.unassigned) > 0  # the instance really is over-demanded
