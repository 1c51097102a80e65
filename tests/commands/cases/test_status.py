"""``!dsx status``: the caller's own view, from the core."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from coordinator.usecases.queries import RequestStatus
from partner_bots.commands.cases.status import line
from tests.commands.fakes import SENDER, FakeCore, context, say

SEEN = RequestStatus(
    "r-1a2b3c4d", "proposed", "high", ("phishing",), "2026-03-01", "o1", "p-2", "@p:x",
    ("alpha",), (), None,
)  # fmt: skip


async def test_one_id_is_asked_as_the_caller_in_lower_case():
    core = FakeCore(answers={"status": SEEN})
    result = await say("!dsx status R-1A2B3C4D", context(core))
    assert result.ok and result.summary == line(SEEN)
    assert core.calls[0].args == ("r-1a2b3c4d", Acting(SENDER, "alpha", device_trusted=True))
    staff = FakeCore(answers={"status": SEEN})
    await say("!dsx status r-1a2b3c4d", context(staff, staff=True))
    assert staff.calls[0].args[1] == Acting(SENDER, None, staff=True, device_trusted=True)


async def test_without_an_id_the_partners_open_requests():
    core = FakeCore(answers={"open_requests": [SEEN]})
    result = await say("!dsx status", context(core))
    assert result.summary == "1 open request(s)." and result.details == (line(SEEN),)
    assert core.calls[0].args == ("alpha",)
    empty = await say("!dsx status", context(FakeCore()))
    assert empty.summary == "You have no open requests."
    staff = FakeCore()
    assert "dashboard" in (await say("!dsx status", context(staff, staff=True))).summary
    assert staff.calls == []


def test_line_shows_the_proposal_and_approvals():
    assert line(SEEN) == (
        "r-1a2b3c4d: proposed; urgency high; skills phishing; for o1; "
        "proposal p-2 (@p:x, 0/1 approvals)"
    )
