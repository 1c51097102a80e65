"""``!dsx path``: the path as the caller may see it."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from coordinator.usecases.results import PathResult
from partner_bots.commands.members.path import reply
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_asks_for_the_path_as_the_caller():
    core = FakeCore()
    result = await say("!dsx path @maria:example.org from=@ana:example.net", context(core))
    assert result.summary == "Vouching path: alpha → @maria:example.org"
    (call,) = core.calls
    assert call.args == ("@maria:example.org", "@ana:example.net")
    assert call.kwargs == {"by": Acting(SENDER, "alpha", device_trusted=True)}


def test_reply_without_a_path():
    assert reply(PathResult("a", "b", ())).summary == "No vouching path from a to b."
