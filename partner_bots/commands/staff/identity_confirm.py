"""``!dsx identity confirm``: staff accept a member's new encryption identity."""

from __future__ import annotations

from coordinator.usecases.results import IdentityConfirmation
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen
from partner_bots.workflow.identities import confirm_identity


@command(
    "identity confirm",
    Audience.STAFF,
    summary="Accept a member's new encryption identity: their commands count again.",
    example="!dsx identity confirm @maria:example.org",
)
@frozen
class IdentityConfirmCommand:
    user: str = arg(v.USER, "the member whose identity changed")

    async def run(self, ctx: CommandContext) -> Outcome:
        result = await confirm_identity(
            ctx.core, ctx.tools.identities, self.user, actor=ctx.sender, event_id=ctx.event_id
        )
        return reply(result)


def reply(result: IdentityConfirmation) -> Outcome:
    return Outcome(
        f"The new identity of {result.user} is confirmed: I share encrypted messages with "
        "their verified devices and act on their commands again.",
        mentions=(result.user,),
    )
