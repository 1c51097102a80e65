"""``!dsx org add``: register an organization the room's partner works with."""

from __future__ import annotations

from coordinator.usecases.results import MemberResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "org add",
    Audience.PARTNER,
    summary="Register an organization your partner works with.",
    example='!dsx org add "Legal Aid Society" region=US-CA areas=immigration,housing',
)
@frozen
class OrgAddCommand:
    org: str = arg(v.ORG, "the organization's name")
    region: str | None = opt(v.REGION, "where it works", default=None)
    areas: tuple[str, ...] = opt(v.TAGS, "its fields of work", default=())

    async def run(self, ctx: CommandContext) -> Outcome:
        partner = ctx.for_partner().partner or ""  # for_partner refuses a room without one
        result = await ctx.core.add_organization(
            self.org, partner, self.region, self.areas, actor=ctx.sender, event_id=ctx.event_id
        )
        return reply(result)


def reply(result: MemberResult) -> Outcome:
    return Outcome(
        f"Organization {result.member} added ({result.status}).",
        ("It needs two references from other organizations, or your vouch, then a vet.",),
    )
