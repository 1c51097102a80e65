"""``!dsx vet``: whether the trust rules accept a member, and why."""

from __future__ import annotations

from coordinator.usecases.results import VetResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen
from partner_bots.commands.wording import path_text


@command(
    "vet",
    Audience.CASEWORK,
    summary="Check whether a member is accepted by the trust rules, and why.",
    example="!dsx vet @maria:example.org",
)
@frozen
class VetCommand:
    member: str = arg(v.MEMBER, "the member to check")

    async def run(self, ctx: CommandContext) -> Outcome:
        return reply(await ctx.core.vet(self.member, ctx.acting(), event_id=ctx.event_id))


def reply(result: VetResult) -> Outcome:
    verdict = "accepted" if result.eligible else "not accepted"
    pod = " (probation pod)" if result.probation else ""
    details = [f"Vouching path: {path_text(result.path)}", *result.messages]
    return Outcome(f"{result.member} is {verdict}: {result.status}{pod}.", tuple(details))
