"""``!dsx refer``: hand a non-U.S. request to a global partner."""

from __future__ import annotations

from coordinator.usecases.results import CaseOutcome
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "refer",
    Audience.CASEWORK,
    summary="Refer a non-U.S. request to a global partner.",
    example="!dsx refer r-1a2b3c4d to=accessnow",
)
@frozen
class ReferCommand:
    request: str = arg(v.REF, "the request id")
    to: str = opt(v.HANDLE, "the global partner's handle")

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await ctx.core.refer(self.request, self.to, by=ctx.acting(), event_id=ctx.event_id)
        return reply(result)


def reply(result: CaseOutcome) -> Outcome:
    return Outcome(f"Request {result.request} referred to {result.to} ({result.state}).")
