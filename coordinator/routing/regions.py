"""Region codes in ISO 3166-2 style ("US-CA"), a country ("US"), or "remote"."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from functools import lru_cache

REMOTE = "REMOTE"


class RegionFit(IntEnum):
    OUT = 0  # cannot serve the region
    NEAR = 1  # same country, national, or remote
    IN = 2  # the very region asked for
    ANY = 3  # the request names no region, so anyone fits


def normalize(code: str) -> str:
    return code.strip().upper()


def country(code: str) -> str:
    """The country part: "US-CA" -> "US", "US" -> "US"."""
    return normalize(code).split("-", 1)[0]


def request_region(code: str | None) -> str | None:
    """A request's region, normalized; None or "remote" mean it can be served from anywhere."""
    if code is None:
        return None
    code = normalize(code)
    return None if code in ("", REMOTE) else code


def region_fit(wanted: str | None, offered: Iterable[str]) -> RegionFit:
    """How well a provider's regions cover the wanted one."""
    return _region_fit(wanted, frozenset(offered))


@lru_cache(maxsize=1 << 16)
def _region_fit(wanted: str | None, offered: frozenset[str]) -> RegionFit:
    wanted = request_region(wanted)
    if wanted is None:
        return RegionFit.ANY
    best = RegionFit.OUT
    wanted_country = country(wanted)
    for code in offered:
        code = normalize(code)
        if code == wanted:
            return RegionFit.IN
        if code == REMOTE or country(code) == wanted_country:
            best = RegionFit.NEAR
    return best
