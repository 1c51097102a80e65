"""``!dsx org ref``: a reference in the name of one of the partner's organizations."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_references_as_the_rooms_partner():
    core = FakeCore()
    result = await say('!dsx org ref "Legal Aid" from="Tenants Union"', context(core))
    assert result.summary == "Reference for legal-aid from tenants recorded."
    (call,) = core.calls
    assert call.args == (Acting(SENDER, "alpha", device_trusted=True), "Legal Aid")
    assert call.kwargs == {"on_behalf_of": "Tenants Union", "event_id": "$ev"}
