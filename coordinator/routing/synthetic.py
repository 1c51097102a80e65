"""A reproducible synthetic network of requests and providers, for benchmarks and tests.

Shapes follow the DSX forms (skills from the provider form's groups, a few languages,
U.S. state regions, capacities of a few engagements); popularity is skewed so some
skills are scarce, which is where batch matching matters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from coordinator.routing.models import (
    ProviderProfile,
    RequestProfile,
    Tier,
    TrustView,
    Urgency,
)

SKILLS = (
    "threat-modeling", "phishing", "device-security", "account-security", "network",
    "web-security", "data-protection", "incident-response", "malware-analysis", "osint",
    "training", "physical-security", "travel-security", "protest-security", "doxxing",
    "harassment", "forensics", "infrastructure", "encryption", "backups",
    "policy", "risk-assessment", "mobile-security", "cloud", "email-security",
    "website-hosting", "ddos", "legal-liaison", "secure-comms", "audit",
)  # fmt: skip
LANGUAGES = ("en", "es", "zh", "vi", "ar", "fr", "ht", "ko", "ru", "tl")
STATES = (
    "US-CA", "US-NY", "US-TX", "US-FL", "US-IL", "US-PA", "US-OH", "US-GA", "US-NC", "US-MI",
    "US-NJ", "US-VA", "US-WA", "US-AZ", "US-MA", "US-TN", "US-IN", "US-MD", "US-MO", "US-WI",
)  # fmt: skip
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Network:
    requests: tuple[RequestProfile, ...]
    providers: tuple[ProviderProfile, ...]
    trust: dict[str, TrustView]


def _zipf_pick(rng: random.Random, items: tuple[str, ...], k: int) -> frozenset[str]:
    weights = [1 / (rank + 1) for rank in range(len(items))]
    chosen: set[str] = set()
    while len(chosen) < k:
        chosen.add(rng.choices(items, weights)[0])
    return frozenset(chosen)


def network(n_requests: int, n_providers: int, seed: int = 0, n_partners: int = 20) -> Network:
    rng = random.Random(seed)
    partners = [f"partner-{i:02d}" for i in range(n_partners)]
    n_orgs = max(10, n_requests // 3)
    providers = []
    trust = {}
    for i in range(n_providers):
        pid = f"@provider{i:05d}:example.org"
        languages = {"en"} if rng.random() < 0.95 else set()
        languages |= {lang for lang in LANGUAGES[1:] if rng.random() < 0.12}
        regions = set(rng.sample(STATES, rng.choice((1, 1, 2))))
        if rng.random() < 0.25:
            regions.add("remote")
        capacity = rng.randint(1, 4)
        providers.append(
            ProviderProfile(
                id=pid,
                skills=_zipf_pick(rng, SKILLS, rng.randint(3, 8)),
                languages=frozenset(languages or {"es"}),
                regions=frozenset(regions),
                capacity=capacity,
                load=rng.randint(0, capacity - 1) if rng.random() < 0.5 else 0,
                tier=Tier.PRIMARY if rng.random() < 0.8 else Tier.SPECIALIST,
                probation=rng.random() < 0.15,
                organizations=(
                    frozenset({f"org-{rng.randrange(n_orgs)}"})
                    if rng.random() < 0.2
                    else frozenset()
                ),
            )
        )
        via = rng.choice(partners)
        hops = tuple(f"member-{rng.randrange(500)}" for _ in range(rng.randint(0, 2)))
        trust[pid] = TrustView(
            accepted=rng.random() < 0.9, path_from_partner=(via, *hops, pid), via_partner=via
        )
    requests = []
    urgencies = (Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.CRITICAL)
    for i in range(n_requests):
        languages = {"en"} if rng.random() < 0.8 else {rng.choice(LANGUAGES[1:])}
        if rng.random() < 0.1:
            languages.add(rng.choice(LANGUAGES))
        requests.append(
            RequestProfile(
                id=f"req-{i:06d}",
                organization=f"org-{rng.randrange(n_orgs)}",
                skills=_zipf_pick(rng, SKILLS, rng.choice((1, 1, 2, 2, 3))),
                languages=frozenset(languages),
                region=rng.choice(STATES) if rng.random() < 0.9 else None,
                urgency=rng.choices(urgencies, (30, 40, 20, 10))[0],
                filed_at=EPOCH + timedelta(minutes=rng.randrange(60 * 24 * 30)),
                asking_partner=rng.choice(partners),
            )
        )
    return Network(requests=tuple(requests), providers=tuple(providers), trust=trust)
