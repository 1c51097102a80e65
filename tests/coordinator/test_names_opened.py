"""Where delivery opens an organization's name and case details (partner_bots/workflow/
names.py): the organization's own partner's rooms and its case's engagement room only. A
row that asks for them elsewhere (another partner's room, the staff room, another case's
engagement room: forged, or written by mistake) gets the id only, and the request to open
is never sent on. Real SQLite and PostgreSQL, real sealing."""

from __future__ import annotations

from coordinator.sealing import Opener
from coordinator.usecases import messages
from partner_bots.workflow.names import CASE_KEY, NAMES_KEY, OrganizationNames
from tests.coordinator.conftest import network

NAME = "Clínica Legal del Valle"
CONTACT = "Rosa, +1 202 555 0107"
NOTE = "laptops seized at the border"


async def _case(c) -> tuple[str, str, str]:
    """A named organization of alpha with an open engagement; (org, request, engagement)."""
    await network(c)
    org = (await c.add_organization(None, "alpha", "US-CA", name=NAME, contact=CONTACT)).member
    await c.vouch("alpha", org)
    await c.vet(org)
    filed = await c.file_request("alpha", org, ["training"], note=NOTE)
    routed = await c.route(filed.request)
    engagement = (await c.approve(routed.proposal, "alpha")).engagement
    assert engagement
    return org, filed.request, engagement


def _content(org: str, request: str) -> dict:
    return {
        **messages.notice(f"About {org}."),
        **messages.naming(org),
        **messages.case_details(org, request),
    }


async def test_names_and_details_open_only_where_they_may_be_read(coord):
    c = coord
    org, request, engagement = await _case(c)
    names = OrganizationNames(c.engine, Opener([c.test_keys]))
    content = _content(org, request)

    for room in ("!alpha:hs", "partner:alpha"):  # the organization's own partner
        shown = await names.opened(room, content)
        assert f"{NAME} ({org})" in shown["body"] and CONTACT not in shown["body"]
        assert NAMES_KEY not in shown and CASE_KEY not in shown

    shown = await names.opened(f"engagement:{engagement}", content)
    for text in (NAME, CONTACT, NOTE):
        assert text in shown["body"], text

    for room in ("!beta:hs", "partner:beta", "!staff:hs", "engagement:e-00000000"):
        shown = await names.opened(room, content)
        assert shown["body"] == f"About {org}.", room  # the id only
        assert NAMES_KEY not in shown and CASE_KEY not in shown


async def test_another_cases_engagement_room_reads_nothing_of_this_case(coord):
    c = coord
    _org, request, engagement = await _case(c)
    other = (await c.add_organization(None, "alpha", "US-CA", name="Another Org")).member
    names = OrganizationNames(c.engine, Opener([c.test_keys]))
    # This engagement room, asked for another organization's details and name: nothing.
    shown = await names.opened(f"engagement:{engagement}", _content(other, request))
    assert "Another Org" not in shown["body"] and CONTACT not in shown["body"]


async def test_without_the_private_key_names_stay_ids(coord):
    c = coord
    org, request, engagement = await _case(c)
    names = OrganizationNames(c.engine, None)
    shown = await names.opened(f"engagement:{engagement}", _content(org, request))
    assert shown["body"] == f"About {org}."
    assert await names.resolve("alpha", NAME) == NAME  # nothing to resolve without the key


async def test_a_partner_resolves_its_own_names_only(coord):
    c = coord
    org, _request, _engagement = await _case(c)
    names = OrganizationNames(c.engine, Opener([c.test_keys]))
    assert await names.resolve("alpha", NAME) == org
    assert await names.resolve("alpha", f"  {NAME.upper()} ") == org  # as typed, any case
    assert await names.resolve("beta", NAME) == NAME  # another partner's: unresolved
