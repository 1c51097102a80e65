"""``!dsx vouch``: the room's partner is the author, never anyone named."""

from __future__ import annotations

from coordinator.domain import VouchKind
from coordinator.usecases.acting import Acting
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_vouches_or_references_as_the_rooms_partner():
    core = FakeCore()
    result = await say("!dsx vouch @maria:example.org as=reference", context(core))
    assert result.summary == "alpha vouch: @maria:example.org recorded."
    (call,) = core.calls
    assert call.args == (
        Acting(SENDER, "alpha", device_trusted=True),
        "@maria:example.org",
        VouchKind.REFERENCE,
    )
    assert call.kwargs == {"event_id": "$ev"}
