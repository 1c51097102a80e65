"""``!dsx approve``: the room's partner approves, where it was asked."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from coordinator.usecases.results import ApprovalResult
from partner_bots.commands.cases.approve import reply
from tests.commands.fakes import ROOM, SENDER, FakeCore, context, say


async def test_approves_as_the_rooms_partner_in_its_thread():
    core = FakeCore()
    assert (await say("!dsx approve P-DB065BBC", context(core, thread_root="$t"))).ok
    (call,) = core.calls
    assert call.name == "approve"
    assert call.args == ("p-db065bbc", Acting(SENDER, "alpha", device_trusted=True))
    assert call.kwargs == {"room": ROOM, "thread": "$t", "event_id": "$ev"}


def test_reply_says_what_is_still_missing():
    opened = reply(ApprovalResult("p-1", "approved", ("a",), (), "e-2"))
    assert opened.summary == "Proposal p-1 approved; engagement e-2 is open."
    waiting = reply(ApprovalResult("p-1", "pending", ("a",), ("b",), None))
    assert waiting.details == ("Still waiting for: b",)
