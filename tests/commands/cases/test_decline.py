"""``!dsx decline``: the reason goes to the core (sealed there), the code is fixed."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from coordinator.usecases.results import DeclineResult
from partner_bots.commands.cases.decline import reply
from tests.commands.fakes import ROOM, SENDER, FakeCore, context, say


async def test_declines_as_the_rooms_partner_with_the_reason():
    core = FakeCore()
    assert (await say('!dsx decline p-db065bbc reason="away"', context(core))).ok
    (call,) = core.calls
    assert call.args == (
        "p-db065bbc",
        Acting(SENDER, "alpha", device_trusted=True),
        "declined",
        "away",
    )
    assert call.kwargs == {"room": ROOM, "thread": None, "event_id": "$ev"}


def test_reply_names_the_next_candidate_or_says_none_is_left():
    nxt = reply(DeclineResult("p-1", "p-2", "@q:x", "proposed"))
    assert nxt.summary == "Proposal p-1 declined; next candidate: @q:x."
    assert nxt.details == ("New proposal p-2 follows.",)
    none = reply(DeclineResult("p-1", None, None, "unmatched"))
    assert "no candidate is left" in none.summary
