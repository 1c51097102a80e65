"""``!dsx unvouch``: the room's partner withdraws its vouch or reference."""

from __future__ import annotations

from coordinator.usecases.results import VouchResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen


@command(
    "unvouch",
    Audience.PARTNER,
    summary="Withdraw your vouch or reference for a member.",
    example="!dsx unvouch @maria:example.org",
)
@frozen
class UnvouchCommand:
    member: str = arg(v.MEMBER, "the member")

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await ctx.core.withdraw_vouch(
            ctx.for_partner(), self.member, event_id=ctx.event_id
        )
        return reply(result)


def reply(result: VouchResult) -> Outcome:
    return Outcome(f"{result.author} no longer vouches for {result.target}.")
