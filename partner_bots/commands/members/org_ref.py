"""``!dsx org ref``: a reference for a new organization, in the name of one the room's
partner brought in (organizations have no Matrix account)."""

from __future__ import annotations

from coordinator.usecases.results import VouchResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "org ref",
    Audience.PARTNER,
    summary="Record a reference for a new organization from one your partner brought in "
    "(two are needed). Organizations have no Matrix account: only the partner that added "
    "an organization records references in its name.",
    example='!dsx org ref "Legal Aid Society" from="Tenants Union"',
)
@frozen
class OrgRefCommand:
    org: str = arg(v.ORG, "the organization referred")
    from_: str = opt(
        v.ORG, "the organization giving the reference: one your partner added", key="from"
    )

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await ctx.core.reference(
            ctx.for_partner(), self.org, on_behalf_of=self.from_, event_id=ctx.event_id
        )
        return reply(result)


def reply(result: VouchResult) -> Outcome:
    return Outcome(f"Reference for {result.target} from {result.author} recorded.")
