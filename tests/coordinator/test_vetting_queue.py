"""The vetting queue in the staff room: every change to an applicant is posted there with
the trust rules' decision and the vouching paths, in the same transaction; organizations
appear by handle only."""

from __future__ import annotations

import json

import pytest

from coordinator.domain import DomainError
from coordinator.usecases.acting import Acting
from tests.coordinator.conftest import network
from tests.harness.notices import rendered

STAFF = "!staff:hs"


async def vetting_notices(c) -> list[dict]:
    return [
        rendered(m)
        for m in await c.outbox.pending(STAFF)
        if rendered(m).get("org.dsx.staff", {}).get("kind") == "vetting"
    ]


async def test_applicant_changes_are_posted_with_decision_and_paths(coord):
    c = coord
    await network(c)
    before = len(await vetting_notices(c))
    await c.add_provider("@p3:hs", ["training"], ["en"], capacity=1)
    await c.vouch("alpha", "@p3:hs")
    new, vouched = (n["org.dsx.staff"] for n in (await vetting_notices(c))[before:])
    assert (new["change"], new["member"], new["member_kind"]) == (
        "new applicant",
        "@p3:hs",
        "provider",
    )
    assert new["eligible"] is False and new["paths"] == [] and new["vouches"] == 0
    assert vouched["change"] == "vouch from alpha" and vouched["eligible"] is True
    assert vouched["paths"] == [["alpha", "@p3:hs"]] and vouched["vouches"] == 1

    queue = await c.vetting_queue()
    assert [e.member for e in queue.entries] == ["@p3:hs"] and queue.total == 1
    assert queue.entries[0].eligible and queue.entries[0].paths == (("alpha", "@p3:hs"),)

    await c.vet("@p3:hs")
    left = (await vetting_notices(c))[-1]["org.dsx.staff"]
    assert (left["change"], left["status"]) == ("accepted", "pod")
    assert "probation pod" in (await vetting_notices(c))[-1]["body"]
    assert (await c.vetting_queue()).total == 0


async def test_withdrawn_vouch_and_unmet_rules_are_explained(coord):
    c = coord
    await network(c)
    await c.add_provider("@p4:hs", ["training"], ["en"], capacity=1)
    await c.vouch("alpha", "@p4:hs")
    await c.unvouch("alpha", "@p4:hs")
    last = (await vetting_notices(c))[-1]
    assert last["org.dsx.staff"]["change"] == "vouch from alpha withdrawn"
    assert last["org.dsx.staff"]["eligible"] is False
    assert "not accepted yet" in last["body"] and "references needed" in last["body"]


async def test_organizations_appear_by_handle_only(coord):
    c = coord
    await network(c)
    await c.add_organization(
        "o2", "beta", region="US-NY", name="Secret Shelter Name", contact="hidden@example.org"
    )
    await c.reference(Acting("@ann:hs", "alpha"), "o2", on_behalf_of="o1")
    notices = [n for n in await vetting_notices(c) if n["org.dsx.staff"]["member"] == "o2"]
    assert [n["org.dsx.staff"]["change"] for n in notices] == [
        "new applicant",
        "reference from o1",
    ]
    text = json.dumps(notices)
    assert "Secret Shelter" not in text and "hidden@example.org" not in text
    assert notices[-1]["org.dsx.staff"]["references"] == 1
    queue = await c.vetting_queue()
    assert [e.member for e in queue.entries] == ["o2"] and not queue.entries[0].eligible


async def test_a_failed_change_posts_nothing(coord):
    c = coord
    await network(c)
    before = len(await vetting_notices(c))
    with pytest.raises(DomainError):
        await c.add_provider("@p1:hs", ["training"], ["en"], capacity=1)  # already a member
    assert len(await vetting_notices(c)) == before
