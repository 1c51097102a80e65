"""``!dsx provider add``: propose a volunteer provider (an applicant until vetted)."""

from __future__ import annotations

from coordinator.usecases.results import MemberResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "provider add",
    Audience.PARTNER,
    summary="Propose a volunteer provider; they join once vouched for and vetted.",
    example="!dsx provider add @maria:example.org skills=phishing,devices langs=en,es "
    "regions=US-CA,remote capacity=2",
)
@frozen
class ProviderAddCommand:
    user: str = arg(v.USER, "the provider's Matrix id")
    skills: tuple[str, ...] = opt(v.TAGS, "what they can help with")
    langs: tuple[str, ...] = opt(v.LANGS, "languages they work in")
    regions: tuple[str, ...] = opt(v.REGIONS, "regions they serve")
    capacity: int = opt(v.IntRange(1, 50), "how many engagements at once")

    async def run(self, ctx: CommandContext) -> Outcome:
        ctx.for_partner()  # a partner room's members only
        result = await ctx.core.add_provider(
            self.user,
            self.skills,
            self.langs,
            self.regions,
            self.capacity,
            actor=ctx.sender,
            event_id=ctx.event_id,
        )
        return reply(result)


def reply(result: MemberResult) -> Outcome:
    return Outcome(
        f"Provider {result.member} added ({result.status}).",
        ("They join once vouched for and vetted: `!dsx vouch`, then `!dsx vet`.",),
        mentions=(),
    )
