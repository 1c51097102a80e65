"""``!dsx queue``: the vetting queue, with waiting times from the core's clock."""

from __future__ import annotations

from datetime import timedelta

from coordinator.usecases.vetting import QueueEntry, VettingQueue
from partner_bots.commands.members.queue import reply
from tests.commands.fakes import NOW, FakeCore, context, say


async def test_lists_the_queue():
    entry = QueueEntry("@m:x", "provider", NOW - timedelta(hours=3), 1, 0, True, (), (("a",),))
    core = FakeCore(answers={"vetting_queue": VettingQueue((entry,), 2)})
    result = await say("!dsx queue", context(core, staff=True))
    assert result.summary == "2 waiting for vetting, oldest first; 1 meet the trust rules."
    assert result.details[0].startswith("@m:x (provider, waiting 3 h)")
    assert result.details[-1] == "… and 1 more on /dashboard/vetting."
    assert core.names == ["vetting_queue"]


def test_an_empty_queue():
    assert reply(VettingQueue((), 0), NOW).summary == "Nobody is waiting for vetting."
