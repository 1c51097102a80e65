from __future__ import annotations

import pytest

from coordinator.routing import RegionFit, region_fit


@pytest.mark.parametrize(
    ("wanted", "offered", "fit"),
    [
        ("US-CA", {"US-CA"}, RegionFit.IN),
        ("us-ca", {" US-CA "}, RegionFit.IN),
        ("US-CA", {"US-NY"}, RegionFit.NEAR),
        ("US-CA", {"US"}, RegionFit.NEAR),
        ("US-CA", {"remote"}, RegionFit.NEAR),
        ("US-CA", {"US-NY", "US-CA"}, RegionFit.IN),
        ("US-CA", {"MX-JAL"}, RegionFit.OUT),
        ("US-CA", set(), RegionFit.OUT),
        ("US", {"US"}, RegionFit.IN),
        ("US", {"US-TX"}, RegionFit.NEAR),
        ("MX-JAL", {"US-CA"}, RegionFit.OUT),
        (None, set(), RegionFit.ANY),
        ("remote", {"US-CA"}, RegionFit.ANY),
    ],
)
def test_region_fit(wanted: str | None, offered: set[str], fit: RegionFit) -> None:
    assert region_fit(wanted, offered) is fit
