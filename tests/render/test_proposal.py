"""Proposals: the routing room sees the case and why; the vouching room sees no organization."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.domain.states import ProposalState
from coordinator.routing.models import Urgency
from partner_bots.render import (
    PROPOSAL_KEY,
    Person,
    ProposalView,
    ProviderView,
    RequestView,
    proposal_content,
    vouching_proposal_content,
)
from partner_bots.render.text import has_unsafe_chars

ORG = "Sanctuary Legal Collective"
NOTE = "Director's phone was seized; contact via Signal +1 555 0100"


def view(**changes) -> ProposalView:
    base = ProposalView(
        id="P-12",
        request=RequestView(
            id="R-7",
            org_name=ORG,
            skills=("phishing", "devices"),
            languages=("es",),
            region="US-CA",
            urgency=Urgency.HIGH,
            note=NOTE,
        ),
        provider=ProviderView(
            user_id="@maria:example.org",
            name="Maria",
            skills=("devices", "forensics"),
            languages=("en", "es"),
            probation=False,
        ),
        routing_partner="Partner A",
        reasons=("speaks Spanish", "in California"),
        paths=(
            (
                Person("partner-a", "Partner A"),
                Person("@maria:example.org", "Maria"),
            ),
            (
                Person("partner-a", "Partner A"),
                Person("@bob:x.org", "Bob"),
                Person("@maria:example.org", "Maria"),
            ),
        ),
        approvals_needed=("partner-a",),
    )
    return replace(base, **changes)


def test_routing_room_proposal_shows_everything_needed():
    content = proposal_content(view())
    body, html = content["body"], content["formatted_body"]
    assert content["msgtype"] == "m.notice" and content["m.mentions"] == {"user_ids": []}
    assert ORG in body and "Director" in body
    assert "Skills: devices, forensics" in body and "Languages: en, es" in body
    assert "Partner A\u2069 → \u2068Maria" in body  # display names, isolated
    assert "<bdi>Partner A</bdi> → <bdi>Maria</bdi>" in html
    assert "speaks Spanish" in body and "<li>in California</li>" in html
    assert "✅" in body and "❌" in body and "!dsx approve P-12" in body
    assert "probation" not in body
    assert content[PROPOSAL_KEY] == {
        "id": "P-12",
        "request": "R-7",
        "provider": "@maria:example.org",
        "paths": [
            ["partner-a", "@maria:example.org"],
            ["partner-a", "@bob:x.org", "@maria:example.org"],
        ],
        "approvals_needed": ["partner-a"],
        "status": "pending",
    }


def test_probation_is_flagged():
    probation = view(provider=replace(view().provider, probation=True))
    body = proposal_content(probation)["body"]
    assert "probation" in body
    assert "probation" in vouching_proposal_content(probation)["body"]


def test_two_partner_approval_and_final_status():
    both = proposal_content(view(approvals_needed=("partner-a", "partner-b")))
    assert "Needs approval in each of: partner-a, partner-b" in both["body"]
    done = proposal_content(view(status=ProposalState.APPROVED))
    assert "Status: approved" in done["body"] and "✅" not in done["body"]
    assert done[PROPOSAL_KEY]["status"] == "approved"


def test_vouching_room_sees_no_organization_data():
    content = vouching_proposal_content(view(approvals_needed=("partner-a", "partner-b")))
    dumped = json.dumps(content, ensure_ascii=False)
    for secret in (ORG, "Sanctuary", NOTE, "Signal", "555", "phishing", "US-CA"):
        assert secret not in dumped, secret
    assert "Maria" in content["body"] and "Partner A" in content["body"]
    assert content[PROPOSAL_KEY]["request"] == "R-7"
    assert "!dsx approve P-12" in content["body"]


def test_hostile_names_are_neutralized():
    evil = "<script>x</script>\u202eadmin\x07" + "Z" * 10_000
    hostile = view(
        request=replace(view().request, org_name=evil, note=evil),
        provider=replace(view().provider, name=evil, skills=(evil,)),
        reasons=(evil,),
        paths=((Person("p", evil), Person("q", evil)),),
        routing_partner=evil,
    )
    for content in (proposal_content(hostile), vouching_proposal_content(hostile)):
        dumped = json.dumps(content, ensure_ascii=False)
        assert "<script>" not in content["formatted_body"]
        assert "&lt;script&gt;" in content["formatted_body"]
        assert "\u202e" not in dumped and "\x07" not in dumped
        assert "Z" * 3_000 not in dumped and "…" in content["body"]
        assert len(dumped.encode()) < 65_536


ALLOWED_TAGS = {"p", "ul", "li", "bdi", "a", "strong", "h4", "blockquote", "br", "code"}


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_any_names_render_safely(name, org):
    hostile = view(
        request=replace(view().request, org_name=org or "x", note=org),
        provider=replace(view().provider, name=name),
        routing_partner=name,
        paths=((Person("p", name), Person("q", org)),),
    )
    for content in (proposal_content(hostile), vouching_proposal_content(hostile)):
        body = content["body"].replace("\u2068", "").replace("\u2069", "").replace("\n", " ")
        assert not has_unsafe_chars(body)
        tags = set(re.findall(r"</?([A-Za-z0-9]+)", content["formatted_body"]))
        assert tags <= ALLOWED_TAGS
