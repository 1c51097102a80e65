"""``!dsx audit anchor``: the core posts the anchor; the reply says so."""

from __future__ import annotations

from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_asks_the_core_for_an_anchor():
    core = FakeCore()
    result = await say("!dsx audit anchor", context(core, staff=True))
    assert result.summary == "Audit anchor posted: 12 entries."
    (call,) = core.calls
    assert call.kwargs == {"actor": SENDER, "event_id": "$ev"}
