"""``!dsx provider add``: an applicant until vouched for and vetted."""

from __future__ import annotations

from tests.commands.fakes import SENDER, FakeCore, context, say

TEXT = "!dsx provider add @maria:example.org skills=phishing langs=es regions=US-CA capacity=2"


async def test_adds_an_applicant_without_mentioning_them():
    core = FakeCore()
    result = await say(TEXT, context(core))
    assert result.summary == "Provider @maria:example.org added (applicant)."
    assert result.mentions == ()
    (call,) = core.calls
    assert call.args == ("@maria:example.org", ("phishing",), ("es",), ("US-CA",), 2)
    assert call.kwargs == {"actor": SENDER, "event_id": "$ev"}
    outside = FakeCore()
    assert (await say(TEXT, context(outside, partner=None))).error.code == "not_a_partner_room"
    assert outside.calls == []
