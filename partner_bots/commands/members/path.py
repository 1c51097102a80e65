"""``!dsx path``: the vouching path to a member, as the caller may see it."""

from __future__ import annotations

from coordinator.usecases.results import PathResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt
from partner_bots.commands.wording import path_text


@command(
    "path",
    Audience.CASEWORK,
    summary="Show the vouching paths to a member, from your partner or another member.",
    example="!dsx path @maria:example.org from=@ana:example.net",
    changes_state=False,
)
@frozen
class PathCommand:
    member: str = arg(v.MEMBER, "where the path ends")
    from_: str | None = opt(
        v.MEMBER, "where it starts (default: your partner)", default=None, key="from"
    )

    async def run(self, ctx: CommandContext) -> Outcome:
        return reply(await ctx.core.path(self.member, self.from_, by=ctx.acting()))


def reply(found: PathResult) -> Outcome:
    if not found.path:
        return Outcome(f"No vouching path from {found.source} to {found.member}.")
    return Outcome(f"Vouching path: {path_text(found.path)}")
