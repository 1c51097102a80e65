"""Hypothesis strategies for small routing instances, dense enough to collide often."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from coordinator.routing import ProviderProfile, RequestProfile, Tier, TrustView, Urgency

SKILLS = ("phishing", "osint", "network", "training")
LANGS = ("en", "es", "vi")
REGIONS = ("US-CA", "US-NY", "US", "remote", "MX-JAL")
PARTNERS = ("pa", "pb", "pc")
ORGS = ("o1", "o2", "o3")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# Built once: constructing strategies inside draws dominates run time otherwise.
PROVIDER_SKILLS = st.frozensets(st.sampled_from(SKILLS), min_size=1)
DENSE_SKILLS = st.frozensets(st.sampled_from(SKILLS), min_size=2)
REQUEST_SKILLS = st.frozensets(st.sampled_from(SKILLS), max_size=2)
DENSE_REQUEST_SKILLS = st.frozensets(st.sampled_from(SKILLS), max_size=1)
PROVIDER_LANGS = st.frozensets(st.sampled_from(LANGS), min_size=1, max_size=2)
REQUEST_LANGS = st.frozensets(st.sampled_from(LANGS), max_size=2)
PROVIDER_REGIONS = st.frozensets(st.sampled_from(REGIONS), max_size=2)
REQUEST_REGION = st.sampled_from((None, *REGIONS))
MEMBER_OF = st.frozensets(st.sampled_from(ORGS), max_size=1)
ORG = st.sampled_from(ORGS)
PARTNER = st.sampled_from(PARTNERS)
TIER = st.sampled_from(Tier)
URGENCY = st.sampled_from(Urgency)


@st.composite
def providers(draw, max_providers: int = 5, max_capacity: int = 3, dense: bool = False):
    """Providers and their trust views; ``dense`` makes most of them eligible for most requests,
    so batch tests see real competition for slots."""
    count = draw(st.integers(1 if dense else 0, max_providers))
    out = []
    trust = {}
    for i in range(count):
        pid = f"p{i}"
        capacity = draw(st.integers(1 if dense else 0, max_capacity))
        out.append(
            ProviderProfile(
                id=pid,
                skills=draw(DENSE_SKILLS if dense else PROVIDER_SKILLS),
                languages=draw(PROVIDER_LANGS),
                regions=frozenset({"remote"}) if dense else draw(PROVIDER_REGIONS),
                capacity=capacity,
                load=draw(st.integers(0, capacity - 1 if dense else capacity)),
                tier=draw(TIER),
                probation=draw(st.booleans()),
                organizations=draw(MEMBER_OF),
            )
        )
        if dense or draw(st.integers(0, 9)) > 0:  # sometimes the trust graph says nothing at all
            via = draw(PARTNER)
            hops = draw(st.integers(0, 3))
            trust[pid] = TrustView(
                accepted=dense or draw(st.integers(0, 5)) > 0,
                path_from_partner=(via, *(f"m{j}" for j in range(hops)), pid)
                if draw(st.booleans())
                else None,
                via_partner=via,
            )
    return out, trust


@st.composite
def requests(draw, max_requests: int = 6, dense: bool = False):
    count = draw(st.integers(2 if dense else 0, max_requests))
    return [
        RequestProfile(
            id=f"r{i}",
            organization=draw(ORG),
            skills=draw(DENSE_REQUEST_SKILLS if dense else REQUEST_SKILLS),
            languages=frozenset() if dense else draw(REQUEST_LANGS),
            region=draw(REQUEST_REGION),
            urgency=draw(URGENCY),
            filed_at=T0 + timedelta(minutes=draw(st.integers(0, 100))),
            asking_partner=draw(PARTNER),
        )
        for i in range(count)
    ]
