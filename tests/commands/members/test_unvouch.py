"""``!dsx unvouch``: the room's partner withdraws its own edge."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_withdraws_as_the_rooms_partner():
    core = FakeCore()
    result = await say("!dsx unvouch @maria:example.org", context(core))
    assert result.summary == "alpha no longer vouches for @maria:example.org."
    (call,) = core.calls
    assert call.args == (Acting(SENDER, "alpha", device_trusted=True), "@maria:example.org")
