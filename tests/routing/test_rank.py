"""Ranking: eligibility rules, community first, deterministic order, explanations."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings

from coordinator.routing import (
    Ineligible,
    ProviderProfile,
    RequestProfile,
    Router,
    Tier,
    TrustView,
    Urgency,
    ineligibility,
    rank,
)
from coordinator.routing.scoring import COMMUNITY_POINTS, MAX_TOTAL, score
from tests.routing.strategies import providers, requests

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def provider(pid: str, **changes: object) -> ProviderProfile:
    base = ProviderProfile(
        id=pid,
        skills=frozenset({"phishing", "osint"}),
        languages=frozenset({"en", "es"}),
        regions=frozenset({"US-CA"}),
        capacity=2,
        load=0,
        tier=Tier.PRIMARY,
        probation=False,
    )
    return replace(base, **changes)


def request(**changes: object) -> RequestProfile:
    base = RequestProfile(
        id="req-1",
        organization="org-a",
        skills=frozenset({"phishing"}),
        languages=frozenset({"es"}),
        region="US-CA",
        urgency=Urgency.NORMAL,
        filed_at=NOW,
        asking_partner="partner-a",
    )
    return replace(base, **changes)


def trusted(pid: str, via: str = "partner-a", hops: int = 1) -> TrustView:
    return TrustView(
        accepted=True,
        path_from_partner=(via, *(f"m{i}" for i in range(hops - 1)), pid),
        via_partner=via,
    )


@pytest.mark.parametrize(
    ("provider_changes", "request_changes", "trust_view", "exclude", "why"),
    [
        ({}, {}, TrustView(False, None, None), set(), Ineligible.NOT_ACCEPTED),
        ({}, {}, None, set(), Ineligible.NOT_ACCEPTED),
        ({"load": 2}, {}, "ok", set(), Ineligible.NO_CAPACITY),
        ({"capacity": 0}, {}, "ok", set(), Ineligible.NO_CAPACITY),
        ({"organizations": frozenset({"org-a"})}, {}, "ok", set(), Ineligible.SAME_ORGANIZATION),
        ({}, {}, "ok", {"p1"}, Ineligible.DECLINED),
        (
            {},
            {"skills": frozenset({"phishing", "malware"})},
            "ok",
            set(),
            Ineligible.MISSING_SKILLS,
        ),
        ({}, {"languages": frozenset({"vi"})}, "ok", set(), Ineligible.NO_LANGUAGE),
        ({"regions": frozenset({"MX-JAL"})}, {}, "ok", set(), Ineligible.OUT_OF_REGION),
        ({"regions": frozenset()}, {}, "ok", set(), Ineligible.OUT_OF_REGION),
    ],
)
def test_each_rule_excludes(
    provider_changes: dict,
    request_changes: dict,
    trust_view: object,
    exclude: set[str],
    why: Ineligible,
) -> None:
    p = provider("p1", **provider_changes)
    r = request(**request_changes)
    view = trusted("p1") if trust_view == "ok" else trust_view
    trust = {"p1": view} if view is not None else {}
    assert ineligibility(r, p, view, frozenset(exclude)) is why  # type: ignore[arg-type]
    assert rank(r, [p], trust, frozenset(exclude)) == []
    # The same provider without the failing condition is a candidate.
    assert [c.provider for c in rank(request(), [provider("p1")], {"p1": trusted("p1")})] == ["p1"]


def test_matching_ignores_case_and_accepts_any_requested_language() -> None:
    p = provider("p1", skills=frozenset({"Phishing"}), languages=frozenset({"ES"}))
    r = request(skills=frozenset({"phishing "}), languages=frozenset({"vi", "es"}))
    assert [c.provider for c in rank(r, [p], {"p1": trusted("p1")})] == ["p1"]


def test_no_language_or_region_requested_means_no_filter() -> None:
    p = provider("p1", languages=frozenset({"vi"}), regions=frozenset({"US-NY"}))
    r = request(languages=frozenset(), region=None)
    [only] = rank(r, [p], {"p1": trusted("p1")})
    assert only.score.language == 0 and only.score.region == 0


def test_community_first_beats_everything_else() -> None:
    ours = provider(
        "z-ours",
        regions=frozenset({"remote"}),
        load=1,
        tier=Tier.SPECIALIST,
        probation=True,
        skills=frozenset({"phishing", "osint", "network", "training"}),
    )
    theirs = provider("a-theirs")
    trust = {"z-ours": trusted("z-ours", hops=4), "a-theirs": trusted("a-theirs", via="partner-b")}
    ranked = rank(request(), [theirs, ours], trust)
    assert [c.provider for c in ranked] == ["z-ours", "a-theirs"]
    assert ranked[0].score.community == COMMUNITY_POINTS
    assert ranked[1].score.community == 0
    assert ranked[0].score.total > ranked[1].score.total
    assert any("partner-b" in reason for reason in ranked[1].reasons)
    assert ranked[1].via_partner == "partner-b"


def test_in_region_beats_near_and_near_is_still_a_candidate() -> None:
    near = provider("a-near", regions=frozenset({"US-NY"}))
    national = provider("b-national", regions=frozenset({"US"}))
    inside = provider("c-inside")
    trust = {p.id: trusted(p.id) for p in (near, national, inside)}
    ranked = rank(request(), [near, national, inside], trust)
    assert [c.provider for c in ranked] == ["c-inside", "a-near", "b-national"]
    assert ranked[0].score.region > ranked[1].score.region == ranked[2].score.region > 0


def test_more_free_capacity_shorter_path_and_primary_tier_rank_higher() -> None:
    trust = {"a": trusted("a"), "b": trusted("b")}
    busy = rank(request(), [provider("a", load=1), provider("b")], trust)
    assert [c.provider for c in busy] == ["b", "a"]
    far = rank(
        request(), [provider("a"), provider("b")], {"a": trusted("a", hops=3), "b": trusted("b")}
    )
    assert [c.provider for c in far] == ["b", "a"]
    tier = rank(request(), [provider("a", tier=Tier.SPECIALIST), provider("b")], trust)
    assert [c.provider for c in tier] == ["b", "a"]
    pod = rank(request(), [provider("a", probation=True), provider("b")], trust)
    assert [c.provider for c in pod] == ["b", "a"]


def test_ties_are_broken_by_id_whatever_the_input_order() -> None:
    pool = [provider(f"p{i}") for i in range(12)]
    trust = {p.id: trusted(p.id) for p in pool}
    expected = [p.id for p in sorted(pool, key=lambda p: p.id)]
    for seed in range(5):
        random.Random(seed).shuffle(pool)
        assert [c.provider for c in rank(request(), pool, trust)] == expected


def test_explanation_carries_breakdown_path_and_reasons() -> None:
    [c] = rank(request(), [provider("p1")], {"p1": trusted("p1", hops=2)})
    assert c.path == ("partner-a", "m0", "p1")
    assert (
        c.score.as_dict()["total"]
        == c.score.total
        == sum(v for k, v in c.score.as_dict().items() if k != "total")
    )
    assert 0 < c.score.total <= MAX_TOTAL
    text = " ".join(c.reasons)
    assert "partner-a → m0 → p1" in text
    assert "phishing" in text and "es" in text and "US-CA" in text


def test_exclude_and_limit() -> None:
    pool = [provider(f"p{i}") for i in range(5)]
    trust = {p.id: trusted(p.id) for p in pool}
    router = Router(pool, trust)
    assert [c.provider for c in router.rank(request(), exclude={"p0", "p3"})] == ["p1", "p2", "p4"]
    assert [c.provider for c in router.rank(request(), limit=2)] == ["p0", "p1"]


def test_duplicate_provider_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        rank(request(), [provider("p1"), provider("p1")], {})


@settings(max_examples=150, deadline=None)
@given(providers(max_providers=8), requests(max_requests=3))
def test_rank_equals_the_rules_applied_one_by_one(pool, reqs) -> None:
    """The vectorized index agrees with the readable per-provider rules."""
    providers_, trust = pool
    router = Router(providers_, trust)
    for r in reqs:
        exclude = frozenset(p.id for p in providers_[:1])
        expected = sorted(
            (
                (-score(r, p, trust[p.id]).total, p.id)
                for p in providers_
                if ineligibility(r, p, trust.get(p.id), exclude) is None
            ),
        )
        got = router.rank(r, exclude=exclude)
        assert [(-c.score.total, c.provider) for c in got] == expected
        for c in got:
            assert c.reasons and c.path == trust[c.provider].path_from_partner
