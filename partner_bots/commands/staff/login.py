"""``!dsx login``: a one-time dashboard link, sent to the caller's direct room.

The link itself is minted at send time (partner_bots/workflow/login.py), never stored:
the reply holds a placeholder, and the link goes to the caller's direct room with the
bot, never into the shared staff room.
"""

from __future__ import annotations

from coordinator.domain import DomainError
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, frozen
from partner_bots.workflow.login import PLACEHOLDER, SUMMARY


@command(
    "login",
    Audience.STAFF,
    summary="Get a one-time link to the staff dashboard, sent to your direct room with the bot.",
    example="!dsx login",
)
@frozen
class LoginCommand:
    async def run(self, ctx: CommandContext) -> Outcome:
        if ctx.tools.login is None:
            raise DomainError("web_disabled", "The dashboard is not running.")
        return Outcome(SUMMARY, (PLACEHOLDER,))
