"""``!dsx close``: the caller closes; the reply counts what was purged."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from coordinator.usecases.results import CloseResult
from partner_bots.commands.engagements.close import reply
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_closes_as_the_caller_with_the_archive_choice():
    core = FakeCore()
    assert (await say("!dsx close E-4F1C2A9D archive=yes", context(core))).ok
    (call,) = core.calls
    assert call.args == ("e-4f1c2a9d", True)
    assert call.kwargs == {"by": Acting(SENDER, "alpha", device_trusted=True), "event_id": "$ev"}


def test_reply_counts_the_purge():
    out = reply(CloseResult("e-1", 3, False))
    assert out.summary == "Engagement e-1 closed; the organization's data was purged."
    assert out.details == ("3 record(s) deleted; no archive was kept.",)
