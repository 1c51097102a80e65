"""``!dsx vouch``: the room's partner vouches for a member, or gives a reference."""

from __future__ import annotations

from coordinator.domain.model import VouchKind
from coordinator.usecases.results import VouchResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "vouch",
    Audience.PARTNER,
    summary="Vouch for a member, or give a reference with as=reference.",
    example="!dsx vouch @maria:example.org as=reference",
)
@frozen
class VouchCommand:
    member: str = arg(v.MEMBER, "the member vouched for")
    as_: VouchKind = opt(
        v.Choice(VouchKind), "a full vouch or a reference", default=VouchKind.VOUCH, key="as"
    )

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await ctx.core.record_vouch(
            ctx.for_partner(), self.member, VouchKind(self.as_), event_id=ctx.event_id
        )
        return reply(result)


def reply(result: VouchResult) -> Outcome:
    return Outcome(f"{result.author} {result.kind}: {result.target} recorded.")
