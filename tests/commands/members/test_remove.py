"""``!dsx remove``: staff only; the reason goes to the core to be sealed."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from coordinator.usecases.results import RemovalResult
from partner_bots.commands.members.remove import reply
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_staff_remove_with_a_reason():
    core = FakeCore()
    text = '!dsx remove @mallory:example.org reason="shared case files"'
    result = await say(text, context(core, staff=True))
    assert result.summary == "@mallory:example.org was removed from the network."
    (call,) = core.calls
    assert call.args == ("@mallory:example.org", "staff_removal")
    assert call.kwargs == {
        "reason": "shared case files",
        "by": Acting(SENDER, None, staff=True, device_trusted=True),
        "event_id": "$ev",
    }
    assert "kept sealed" in result.details[-1]
    unsealed = await say(text, context(FakeCore(sealer=None), staff=True))
    assert "not stored" in unsealed.details[-1]


def test_reply_lists_an_organizations_cascade():
    out = reply(RemovalResult("o1", ("p-1",), (), (), ("r-1",), ("e-1",), 3), sealed=True)
    assert "Proposals cancelled: p-1" in out.details
    assert "Requests cancelled: 1 (r-1)" in out.details
    assert "Sealed records purged: 3" in out.details
