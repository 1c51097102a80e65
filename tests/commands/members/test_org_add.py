"""``!dsx org add``: for the room's partner, never one named in the text."""

from __future__ import annotations

from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_adds_for_the_rooms_partner():
    core = FakeCore()
    text = '!dsx org add "Legal Aid Society" region=US-CA areas=housing'
    result = await say(text, context(core, partner="beta"))
    assert result.summary == "Organization legal-aid added (applicant)."
    (call,) = core.calls
    assert call.args == ("Legal Aid Society", "beta", "US-CA", ("housing",))
    assert call.kwargs == {"actor": SENDER, "event_id": "$ev"}
    outside = FakeCore()
    assert (await say(text, context(outside, partner=None))).error.code == "not_a_partner_room"
    assert outside.calls == []
