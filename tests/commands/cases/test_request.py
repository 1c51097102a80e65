"""``!dsx request``: files through the core's one use case, in the room and its thread."""

from __future__ import annotations

from coordinator.domain import Urgency
from coordinator.usecases.acting import Acting
from coordinator.usecases.results import Filed
from partner_bots.commands.cases.request import reply
from tests.commands.fakes import ROOM, SENDER, FakeCore, Refused, context, say

TEXT = '!dsx request "Legal Aid Society" skills=phishing langs=es urgency=high note="seized"'


async def test_files_for_the_rooms_partner_in_this_room_and_thread():
    core = FakeCore()
    result = await say(TEXT, context(core))
    assert result.ok
    (call,) = core.calls
    assert call.name == "file_request"
    assert call.args == (
        Acting(SENDER, "alpha", device_trusted=True),
        "Legal Aid Society",
        ("phishing",),
        ("es",),
        None,
        Urgency.HIGH,
        "seized",
    )
    # A new request's thread starts at the command; the same event id keys the use case.
    assert call.kwargs == {"room": ROOM, "thread": "$ev", "event_id": "$ev"}
    again = FakeCore()
    await say(TEXT, context(again, thread_root="$root"))
    assert again.calls[0].kwargs["thread"] == "$root"


async def test_a_refusal_from_the_core_is_the_reply():
    core = FakeCore(fail_with=Refused("unknown_organization", "No organization Legal Aid."))
    result = await say(TEXT, context(core))
    assert not result.ok and result.error.code == "unknown_organization"


async def test_outside_a_partner_room_nothing_is_filed():
    core = FakeCore()
    result = await say(TEXT, context(core, partner=None))
    assert result.error.code == "not_a_partner_room" and core.calls == []


def test_reply_names_the_proposal_the_referral_or_the_wait():
    proposed = reply(Filed("r-1", "proposed", None, "p-2", "@p:x", ("a", "@p:x"), ("a", "b")))
    assert proposed.summary == "Request r-1 filed; a proposal follows."
    assert proposed.details == (
        "Proposal p-2: @p:x",
        "Vouching path: a → @p:x",
        "Approvals needed: a, b",
    )
    referred = reply(Filed("r-1", "open", "globe"))
    assert "outside the U.S." in referred.summary and "`!dsx refer r-1`" in referred.details[0]
    waiting = reply(Filed("r-1", "unmatched"))
    assert waiting.summary == "Request r-1 filed (unmatched)." and "staff" in waiting.details[0]
