"""The seam: every notification kind the core queues has one renderer, survives the outbox
row (JSON, kind, schema version) unchanged, and renders what its audience may see only."""

from __future__ import annotations

import json

import pytest

from coordinator import notifications as n
from partner_bots.render.notifications import RENDERERS, Where, render

ORG = "Casa de la Mujer"
ENG_ROOM = "!engagement-room:hs"


def proposal(audience: n.Audience = n.Audience.ASKING, **kw) -> n.ProposalPosted:
    case = (
        {"organization": ORG, "languages": ("es",), "region": "US-CA"}
        if audience is n.Audience.ASKING
        else {}
    )
    fields = dict(
        proposal="p-1",
        request_id="r-1",
        audience=audience,
        routing_partner="alpha",
        provider="@maria:hs",
        provider_skills=("forensics",),
        provider_languages=("en", "es"),
        probation=False,
        path=("alpha", "@maria:hs"),
        reasons=("skills match: forensics", "speaks es"),
        waiting_for=("alpha", "beta"),
        skills=("forensics",),
        urgency="high",
        **case,
    )
    fields.update(kw)
    return n.ProposalPosted(**fields)  # type: ignore[arg-type]


EXAMPLES: list[tuple[n.Notification, n.RoomRef]] = [
    (proposal(), n.PartnerRoom("alpha", "!a:hs")),
    (proposal(n.Audience.VOUCHING), n.PartnerRoom("beta")),
    (n.ProposalUpdated(**{**proposal().__dict__, "status": "approved"}), n.PartnerRoom("alpha")),
    (n.EngagementOpened("e-1", "r-1", "@maria:hs", ("forensics",)), n.EngagementRoom("e-1")),
    (n.EngagementOpened("e-1", "r-1", "@maria:hs", ("forensics",)), n.PartnerRoom("alpha")),
    (n.EngagementClosed("e-1", n.CloseCause.CLOSED), n.EngagementRoom("e-1")),
    (n.EngagementClosed("e-1", n.CloseCause.ORGANIZATION_REMOVED), n.EngagementRoom("e-1")),
    (n.RequestUnmatched("r-1"), n.PartnerRoom("alpha")),
    (n.ReferralSuggested("r-1", "globe"), n.PartnerRoom("alpha")),
    (n.ReferralSuggested("r-1", None), n.PartnerRoom("alpha")),
    (n.RequestReferred("r-1", "alpha", ("forensics",), "MX", "high"), n.PartnerRoom("globe")),
    (n.OrganizationRemoved("o-1", ("r-1", "r-2")), n.PartnerRoom("alpha")),
    (n.IntakeReceived("c-0123456789", "request", "high", True), n.PartnerRoom("alpha")),
    (n.StaffUnmatched("r-1", ("forensics",), "high"), n.StaffRoom("!staff:hs")),
    (n.SlaEscalation(("r-1", "r-2")), n.StaffRoom("!staff:hs")),
    (
        n.VettingChanged("vouched", "@p:hs", "provider", "applicant", False, (), "not yet.", 1, 0),
        n.StaffRoom("!staff:hs"),
    ),
    (
        n.VettingChanged("accepted", "@p:hs", "provider", "pod", True, (("alpha", "@p:hs"),)),
        n.StaffRoom("!staff:hs"),
    ),
    (
        n.MemberRemoved("o-1", "staff_removal", True, True, True, ("@x:hs",), ("r-3",), 2, 1, 1),
        n.StaffRoom("!staff:hs"),
    ),
    (n.AuditAnchor(12, "ab" * 32), n.StaffRoom("!staff:hs")),
    (n.OutboxDead("!a:hs", "m-1", "M_FORBIDDEN"), n.StaffRoom("!staff:hs")),
    (n.SyncTrouble(False, 5), n.StaffRoom("!staff:hs")),
    (n.SyncTrouble(True, 0), n.StaffRoom("!staff:hs")),
    (n.RoomUpgraded("!old:hs", "!new:hs", "partner", "alpha"), n.StaffRoom("!staff:hs")),
    (n.AuditAnchor(1, "cd" * 32), n.DirectRoom("@staff:hs")),
]


def where(room: n.RoomRef) -> Where:
    return Where(room, {n.EngagementRoom("e-1").address: ENG_ROOM})


def test_every_kind_has_exactly_one_renderer_and_an_example():
    assert set(RENDERERS) == set(n.KINDS)
    assert {type(x).KIND for x, _ in EXAMPLES} == set(n.KINDS)


@pytest.mark.parametrize("value,room", EXAMPLES, ids=lambda v: getattr(v, "KIND", ""))
def test_round_trip_through_the_outbox_row(value, room):
    row = json.loads(json.dumps(n.encode(value, room)))
    assert row["v"] == n.SCHEMA_VERSION and row["kind"] == value.KIND
    back = n.decode(row)
    assert back.notification == value and back.room == room
    content = render(back.notification, where(back.room))
    assert content["msgtype"] == "m.notice" and content["body"]
    assert "user_ids" in content["m.mentions"]


def test_unknown_kind_or_version_is_refused():
    row = n.encode(n.RequestUnmatched("r-1"), n.PartnerRoom("alpha"))
    with pytest.raises(n.UnknownNotification):
        n.decode({**row, "v": n.SCHEMA_VERSION + 1})
    with pytest.raises(n.UnknownNotification):
        n.decode({**row, "kind": "request.teleported"})


def test_room_addresses_are_what_delivery_resolves():
    assert n.PartnerRoom("alpha").address == "partner:alpha"
    assert n.PartnerRoom("alpha", "!filed:hs").address == "!filed:hs"
    assert n.EngagementRoom("e-1").address == "engagement:e-1"
    assert n.StaffRoom("!staff:hs").address == "!staff:hs"
    assert n.DirectRoom("@s:hs").address == "direct:@s:hs"


def test_a_vouching_copy_cannot_carry_the_case():
    with pytest.raises(ValueError):
        proposal(n.Audience.VOUCHING, organization=ORG)
    with pytest.raises(ValueError):
        proposal(n.Audience.VOUCHING, region="US-CA")


def test_asking_copy_shows_the_case_and_vouching_copy_does_not():
    asking = render(proposal(), where(n.PartnerRoom("alpha")))
    vouching = render(proposal(n.Audience.VOUCHING), where(n.PartnerRoom("beta")))
    assert ORG in asking["body"] and "skills match: forensics" in asking["body"]
    assert ORG not in json.dumps(vouching, ensure_ascii=False)
    assert "US-CA" not in json.dumps(vouching)
    for content in (asking, vouching):
        block = content["org.dsx.proposal"]
        assert block["id"] == "p-1" and block["request"] == "r-1"
        assert block["approvals_needed"] == ["alpha", "beta"] and block["status"] == "pending"


def test_an_update_shows_the_new_state():
    updated = n.ProposalUpdated(**{**proposal().__dict__, "status": "declined", "waiting_for": ()})
    content = render(updated, where(n.PartnerRoom("alpha")))
    assert content["org.dsx.proposal"]["status"] == "declined"
    assert "Status: declined" in content["body"]


def test_engagement_notices_name_the_room_by_its_matrix_id():
    opened = n.EngagementOpened("e-1", "r-1", "@maria:hs", ("forensics",))
    welcome = render(opened, where(n.EngagementRoom("e-1")))
    told = render(opened, where(n.PartnerRoom("alpha")))
    assert welcome["org.dsx.engagement"]["room"] == ENG_ROOM == told["org.dsx.engagement"]["room"]
    assert welcome["m.mentions"] == {"user_ids": ["@maria:hs"]}
    assert told["m.mentions"] == {"user_ids": []} and "opened" in told["body"]
    assert opened.rooms_named() == (n.EngagementRoom("e-1"),)
    with pytest.raises(KeyError):  # never rendered before the room exists
        render(opened, Where(n.PartnerRoom("alpha")))


def test_staff_notices_carry_their_kind_block():
    kinds = {
        value.KIND: render(value, where(room))["org.dsx.staff"]["kind"]
        for value, room in EXAMPLES
        if value.KIND.startswith("staff.") and not isinstance(value, n.SyncTrouble)
    }
    assert kinds == {
        "staff.unmatched": "unmatched",
        "staff.sla": "sla",
        "staff.vetting": "vetting",
        "staff.removal": "removal",
        "staff.audit_anchor": "audit_anchor",
        "staff.outbox_dead": "outbox_dead",
        "staff.room_upgraded": "room_upgraded",
    }
    anchor = render(n.AuditAnchor(12, "ab" * 32), where(n.StaffRoom("!s:hs")))
    assert f"dsx audit verify --anchor {'ab' * 32}:12" in anchor["body"]
    removal = render(EXAMPLES[17][0], where(n.StaffRoom("!s:hs")))
    assert "Requests cancelled: 2" in removal["body"] and "@x:hs" in removal["body"]


def test_a_hostile_value_is_capped_below_the_event_limit():
    from partner_bots.render.notice import MAX_CONTENT_BYTES, content_bytes

    many = tuple(f"r-{i:08d}" for i in range(3_000))
    content = render(n.SlaEscalation(many), where(n.StaffRoom("!s:hs")))
    assert content_bytes(content) <= MAX_CONTENT_BYTES
    assert content["org.dsx.staff"]["requests"] == list(many)  # the ids stay whole
