"""``!dsx close``: close an engagement; the organization's data is purged."""

from __future__ import annotations

from coordinator.usecases.results import CloseResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "close",
    Audience.CASEWORK,
    summary="Close an engagement; the organization's data is then purged.",
    example="!dsx close e-4f1c2a9d archive=no",
)
@frozen
class CloseCommand:
    engagement: str = arg(v.REF, "the engagement id")
    archive: bool = opt(v.YesNo(), "keep an offline archive (only with permission)", default=False)

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await ctx.core.close(
            self.engagement, self.archive, by=ctx.acting(), event_id=ctx.event_id
        )
        return reply(result)


def reply(result: CloseResult) -> Outcome:
    archive = "an offline archive was kept" if result.archived else "no archive was kept"
    return Outcome(
        f"Engagement {result.engagement} closed; the organization's data was purged.",
        (f"{result.purged_rows} record(s) deleted; {archive}.",),
    )
