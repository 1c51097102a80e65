"""``!dsx remove``: staff remove a member; the cascade is reported."""

from __future__ import annotations

from coordinator.usecases.results import RemovalResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt


@command(
    "remove",
    Audience.STAFF,
    summary="Remove a member from the network; affected cases are reported.",
    example='!dsx remove @mallory:example.org reason="code of conduct violation"',
)
@frozen
class RemoveCommand:
    member: str = arg(v.MEMBER, "the member")
    reason: str = opt(v.REASON, "why, for the record")

    async def run(self, ctx: CommandContext) -> Outcome:
        """The reason staff typed is stored sealed; the report answers their command, so
        the reason stays readable in the (encrypted) staff room and nowhere in plain text."""
        result = await ctx.core.remove_member(
            self.member,
            "staff_removal",
            reason=self.reason,
            by=ctx.acting(),
            event_id=ctx.event_id,
        )
        return reply(result, sealed=ctx.core.ctx.sealer is not None)


def reply(result: RemovalResult, *, sealed: bool) -> Outcome:
    details = [
        f"Proposals cancelled: {', '.join(result.cancelled_proposals) or 'none'}",
        f"Requests re-routed: {', '.join(result.rerouted_requests) or 'none'}",
        f"Needing a new vouch: {', '.join(result.needs_revouching) or 'none'}",
    ]
    if result.cancelled_requests or result.closed_engagements:
        details += [
            f"Requests cancelled: {len(result.cancelled_requests)} "
            f"({', '.join(result.cancelled_requests) or 'none'})",
            f"Engagements closed: {len(result.closed_engagements)} "
            f"({', '.join(result.closed_engagements) or 'none'})",
            f"Sealed records purged: {result.purged_rows}",
        ]
    if sealed:
        details.append("The reason is kept sealed; the audit log records a code only.")
    else:
        details.append("No sealing key is configured: the reason was not stored.")
    return Outcome(f"{result.member} was removed from the network.", tuple(details))
