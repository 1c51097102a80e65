"""``!dsx refuse``: staff refuse a request out of mandate; only the code and date remain."""

from __future__ import annotations

from coordinator.usecases.results import CaseOutcome
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "refuse",
    Audience.STAFF,
    summary="Refuse a request as out of mandate; only the reason code and date are kept.",
    example="!dsx refuse r-1a2b3c4d reason=hatred",
)
@frozen
class RefuseCommand:
    request: str = arg(v.REF, "the request id")
    reason: str = opt(v.CODE, "a reason code")

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await ctx.core.refuse(
            self.request, self.reason, by=ctx.acting(), event_id=ctx.event_id
        )
        return reply(result)


def reply(result: CaseOutcome) -> Outcome:
    return Outcome(
        f"Request {result.request} refused ({result.code}); only the code and date remain."
    )
