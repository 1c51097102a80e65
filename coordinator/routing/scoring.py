"""The routing rules one provider at a time: eligibility, score and the human reasons.

This is the readable statement of the rules. :mod:`coordinator.routing.index` computes
the same numbers for many providers at once; tests hold the two to each other.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from functools import lru_cache

from coordinator.routing import languages
from coordinator.routing.models import (
    Candidate,
    Ineligible,
    ProviderProfile,
    RequestProfile,
    ScoreBreakdown,
    Tier,
    TrustView,
)
from coordinator.routing.regions import RegionFit, region_fit

# Community first: this outweighs every other criterion together (see MAX_TOTAL).
COMMUNITY_POINTS = 1000
PATH_POINTS = 60  # a direct vouch from the partner; minus PATH_STEP per extra hop
PATH_STEP = 10
REGION_IN_POINTS = 300
REGION_NEAR_POINTS = 100
LANGUAGE_POINTS = 100
SKILLS_POINTS = 100
LOAD_POINTS = 100
PRIMARY_TIER_POINTS = 50
PROBATION_POINTS = -40
MAX_TOTAL = (
    COMMUNITY_POINTS
    + PATH_POINTS
    + REGION_IN_POINTS
    + LANGUAGE_POINTS
    + SKILLS_POINTS
    + LOAD_POINTS
    + PRIMARY_TIER_POINTS
)
assert COMMUNITY_POINTS > MAX_TOTAL - COMMUNITY_POINTS


def norm(values: AbstractSet[str]) -> frozenset[str]:
    """Skills compare case-insensitively (languages compare by ``languages.keys``)."""
    return _norm(frozenset(values))  # frozenset(x) is x itself when x is already frozen


@lru_cache(maxsize=1 << 16)
def _norm(values: frozenset[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values)


def path_points(path: tuple[str, ...] | None) -> int:
    if not path:
        return 0
    hops = max(1, len(path) - 1)
    return max(0, PATH_POINTS - PATH_STEP * (hops - 1))


def load_points(provider: ProviderProfile) -> int:
    if provider.capacity <= 0:
        return 0
    return LOAD_POINTS * provider.free // provider.capacity


def ineligibility(
    request: RequestProfile,
    provider: ProviderProfile,
    trust: TrustView | None,
    exclude: AbstractSet[str] = frozenset(),
) -> Ineligible | None:
    """The first rule that keeps ``provider`` off ``request``, or None if it is a candidate."""
    if trust is None or not trust.accepted:
        return Ineligible.NOT_ACCEPTED
    if provider.load >= provider.capacity:
        return Ineligible.NO_CAPACITY
    if request.organization in provider.organizations:
        return Ineligible.SAME_ORGANIZATION
    if provider.id in exclude:
        return Ineligible.DECLINED
    if not norm(request.skills) <= norm(provider.skills):
        return Ineligible.MISSING_SKILLS
    if request.languages and not languages.keys(request.languages) & languages.keys(
        provider.languages
    ):
        return Ineligible.NO_LANGUAGE
    if region_fit(request.region, provider.regions) is RegionFit.OUT:
        return Ineligible.OUT_OF_REGION
    return None


def score(request: RequestProfile, provider: ProviderProfile, trust: TrustView) -> ScoreBreakdown:
    """Points of an eligible provider for a request."""
    fit = region_fit(request.region, provider.regions)
    wanted_langs = languages.keys(request.languages)
    wanted_skills = norm(request.skills)
    own_skills = norm(provider.skills)
    return ScoreBreakdown(
        community=COMMUNITY_POINTS if trust.via_partner == request.asking_partner else 0,
        path=path_points(trust.path_from_partner),
        region={RegionFit.IN: REGION_IN_POINTS, RegionFit.NEAR: REGION_NEAR_POINTS}.get(fit, 0),
        language=(
            LANGUAGE_POINTS
            * len(wanted_langs & languages.keys(provider.languages))
            // len(wanted_langs)
            if wanted_langs
            else 0
        ),
        skills=SKILLS_POINTS * len(wanted_skills) // len(own_skills) if wanted_skills else 0,
        load=load_points(provider),
        tier=PRIMARY_TIER_POINTS if provider.tier is Tier.PRIMARY else 0,
        probation=PROBATION_POINTS if provider.probation else 0,
    )


def reasons(
    request: RequestProfile, provider: ProviderProfile, trust: TrustView, points: ScoreBreakdown
) -> tuple[str, ...]:
    """Plain sentences for the partner room: why this provider is proposed."""
    out: list[str] = []
    if points.community:
        out.append("Vouched for through your own web of trust.")
    elif trust.via_partner:
        out.append(
            f"Vouched for through partner {trust.via_partner}; that partner must approve too."
        )
    if trust.path_from_partner:
        out.append("Vouching path: " + " → ".join(trust.path_from_partner) + ".")
    if request.skills:
        out.append("Covers every requested skill: " + ", ".join(sorted(norm(request.skills))) + ".")
    spoken = languages.shared(request.languages, provider.languages)
    if spoken:
        out.append("Speaks " + ", ".join(spoken) + ".")
    fit = region_fit(request.region, provider.regions)
    if fit is RegionFit.IN:
        out.append(f"Works in {request.region}.")
    elif fit is RegionFit.NEAR:
        out.append(
            f"Works near {request.region} ({', '.join(sorted(provider.regions))}), not in it."
        )
    out.append(f"Has {provider.free} of {provider.capacity} engagement slots free.")
    out.append(
        "A primary responder."
        if provider.tier is Tier.PRIMARY
        else "A specialist (called in for specific technical needs)."
    )
    if provider.probation:
        out.append("Still in the probation pod: matched, but cannot vouch yet.")
    return tuple(out)


def candidate(request: RequestProfile, provider: ProviderProfile, trust: TrustView) -> Candidate:
    points = score(request, provider, trust)
    return Candidate(
        provider=provider.id,
        score=points,
        path=trust.path_from_partner,
        reasons=reasons(request, provider, trust, points),
        via_partner=trust.via_partner,
    )
