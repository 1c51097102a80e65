"""``!dsx decline`` (or ❌ on the proposal): the next candidate is proposed."""

from __future__ import annotations

from coordinator.usecases.results import DeclineResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "decline",
    Audience.PARTNER,
    summary="Decline a proposed match (or react ❌); the next candidate is proposed.",
    example='!dsx decline p-db065bbc reason="not available this month"',
)
@frozen
class DeclineCommand:
    proposal: str = arg(v.REF, "the proposal id")
    reason: str | None = opt(v.REASON, "why, for the record", default=None)

    async def run(self, ctx: CommandContext) -> Outcome:
        # The free-text reason is kept sealed with the case; the audit has a code only.
        result = await ctx.core.decline(
            self.proposal,
            ctx.for_partner(),
            "declined",
            self.reason,
            room=ctx.room_id,
            thread=ctx.thread_root,
            event_id=ctx.event_id,
        )
        return reply(result)


def reply(result: DeclineResult) -> Outcome:
    if result.next_proposal:
        return Outcome(
            f"Proposal {result.proposal} declined; next candidate: {result.next_provider}.",
            (f"New proposal {result.next_proposal} follows.",),
        )
    return Outcome(f"Proposal {result.proposal} declined; no candidate is left, staff were told.")
