"""``!dsx review``: the routing partner reviews; conduct=1 is a violation."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from coordinator.usecases.results import ReviewResult
from partner_bots.commands.engagements.review import reply
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_reviews_as_the_rooms_partner():
    core = FakeCore()
    text = "!dsx review e-4f1c2a9d conduct=1 contract=4 communication=5"
    assert (await say(text, context(core))).ok
    (call,) = core.calls
    assert call.args == ("e-4f1c2a9d", 1, 4, 5)
    assert call.kwargs == {
        "code_of_conduct_violation": True,
        "by": Acting(SENDER, "alpha", device_trusted=True),
        "event_id": "$ev",
    }


def test_reply_reports_what_followed():
    out = reply(ReviewResult("e-1", False, False, False, True))
    assert out.summary == "Review of e-1 recorded (not satisfactory)."
    assert out.details == ("Code-of-conduct violation: the provider was removed.",)
