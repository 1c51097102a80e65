"""``!dsx review``: the routing partner reviews a closed engagement."""

from __future__ import annotations

from coordinator.usecases.results import ReviewResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "review",
    Audience.PARTNER,
    summary="Review a closed engagement: conduct, contract and communication, 1 to 5.",
    example='!dsx review e-4f1c2a9d conduct=5 contract=4 communication=5 note="clear and quick"',
)
@frozen
class ReviewCommand:
    engagement: str = arg(v.REF, "the engagement id")
    conduct: int = opt(v.IntRange(1, 5), "code of conduct")
    contract: int = opt(v.IntRange(1, 5), "kept what was agreed")
    communication: int = opt(v.IntRange(1, 5), "kept everyone informed")
    note: str | None = opt(v.NOTE, "anything else", default=None)

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await ctx.core.review(
            self.engagement,
            self.conduct,
            self.contract,
            self.communication,
            code_of_conduct_violation=self.conduct == 1,
            by=ctx.for_partner(),
            event_id=ctx.event_id,
        )
        return reply(result)


def reply(result: ReviewResult) -> Outcome:
    details = []
    if result.notation:
        details.append("A satisfactory notation was added to the provider's account.")
    if result.promoted:
        details.append("The provider leaves the probation pod.")
    if result.removed:
        details.append("Code-of-conduct violation: the provider was removed.")
    verdict = "satisfactory" if result.satisfactory else "not satisfactory"
    return Outcome(f"Review of {result.engagement} recorded ({verdict}).", tuple(details))
