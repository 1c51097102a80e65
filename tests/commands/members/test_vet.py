"""``!dsx vet``: the caller asks; the reply gives the verdict, path and reasons."""

from __future__ import annotations

from coordinator.usecases.acting import Acting
from coordinator.usecases.results import VetResult
from partner_bots.commands.members.vet import reply
from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_vets_as_the_caller():
    core = FakeCore()
    assert (await say("!dsx vet @maria:example.org", context(core))).ok
    (call,) = core.calls
    assert call.args == ("@maria:example.org", Acting(SENDER, "alpha", device_trusted=True))


def test_reply_gives_verdict_path_and_reasons():
    out = reply(VetResult("@m:x", False, "applicant", False, ("r",), ("Needs two.",), ()))
    assert out.summary == "@m:x is not accepted: applicant."
    assert out.details == ("Vouching path: none", "Needs two.")
    pod = reply(VetResult("@m:x", True, "pod", True, (), (), ("a", "@m:x")))
    assert pod.summary == "@m:x is accepted: pod (probation pod)."
