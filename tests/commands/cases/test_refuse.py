"""``!dsx refuse``: staff only; the core keeps the code alone."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_staff_refuse_with_a_code():
    core = FakeCore()
    result = await say("!dsx refuse r-1a2b3c4d reason=Hatred", context(core, staff=True))
    assert result.summary.startswith("Request r-1a2b3c4d refused (hatred)")
    (call,) = core.calls
    assert call.args == ("r-1a2b3c4d", "hatred")
    assert call.kwargs == {
        "by": Acting(SENDER, None, staff=True, device_trusted=True),
        "event_id": "$ev",
    }
    partner = FakeCore()
    refused = await say("!dsx refuse r-1a2b3c4d reason=hatred", context(partner))
    assert refused.error.code == "staff_only" and partner.calls == []
