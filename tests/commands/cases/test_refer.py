"""``!dsx refer``: the caller (partner or staff) refers; the core decides whose it is."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_refers_as_the_caller():
    core = FakeCore()
    result = await say("!dsx refer R-1A2B3C4D to=accessnow", context(core))
    assert result.summary == "Request r-1a2b3c4d referred to accessnow (referred)."
    (call,) = core.calls
    assert call.args == ("r-1a2b3c4d", "accessnow")
    assert call.kwargs == {"by": Acting(SENDER, "alpha", device_trusted=True), "event_id": "$ev"}
