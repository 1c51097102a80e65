"""``!dsx audit anchor``: post the audit log's head to the staff room.

The anchor itself is a staff notice (no names, not even the asker's); the reply only
says it went out.
"""

from __future__ import annotations

from coordinator.usecases.results import AnchorResult
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, frozen


@command(
    "audit anchor",
    Audience.STAFF,
    summary="Post the audit log's entry count and newest hash, to check the log against later.",
    example="!dsx audit anchor",
)
@frozen
class AuditAnchorCommand:
    async def run(self, ctx: CommandContext) -> Outcome:
        return reply(await ctx.core.anchor_audit(actor=ctx.sender, event_id=ctx.event_id))


def reply(result: AnchorResult) -> Outcome:
    return Outcome(
        f"Audit anchor posted: {result.count} entries.",
        ("Keep that notice: `dsx audit verify --anchor` checks the log against it.",),
    )
