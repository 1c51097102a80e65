"""``!dsx approve`` (or ✅ on the proposal): a partner approves a proposed match."""

from __future__ import annotations

from coordinator.usecases.results import ApprovalResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen


@command(
    "approve",
    Audience.PARTNER,
    summary="Approve a proposed match (or react ✅ to the proposal).",
    example="!dsx approve p-db065bbc",
)
@frozen
class ApproveCommand:
    proposal: str = arg(v.REF, "the proposal id")

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await ctx.core.approve(
            self.proposal,
            ctx.for_partner(),
            room=ctx.room_id,  # the answer stays where it was given
            thread=ctx.thread_root,
            event_id=ctx.event_id,
        )
        return reply(result)


def reply(result: ApprovalResult) -> Outcome:
    if result.engagement:
        return Outcome(
            f"Proposal {result.proposal} approved; engagement {result.engagement} is open.",
            ("An encrypted engagement room is being created with the provider.",),
        )
    return Outcome(
        f"Approval of {result.proposal} recorded.",
        (f"Still waiting for: {', '.join(result.waiting_for)}",),
    )
