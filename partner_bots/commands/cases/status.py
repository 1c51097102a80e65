"""``!dsx status``: the caller's open cases, or one request as the caller may see it."""

from __future__ import annotations

from coordinator.usecases.queries import RequestStatus
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen


@command(
    "status",
    Audience.CASEWORK,
    summary="Show your open cases, or one request, proposal or engagement.",
    example="!dsx status r-1a2b3c4d",
    changes_state=False,
)
@frozen
class StatusCommand:
    id: str | None = arg(v.REF, "a request, proposal or engagement id", optional=True)

    async def run(self, ctx: CommandContext) -> Outcome:
        by = ctx.acting()
        if self.id is None:
            if by.partner is None:
                return Outcome("The staff view lists requests on the dashboard.")
            found = await ctx.core.open_requests(by.partner)
            if not found:
                return Outcome("You have no open requests.")
            return Outcome(f"{len(found)} open request(s).", tuple(line(s) for s in found))
        return Outcome(line(await ctx.core.status(self.id, by)))


def line(s: RequestStatus) -> str:
    parts = [f"{s.request}: {s.state}", f"urgency {s.urgency}", f"skills {', '.join(s.skills)}"]
    if s.organization:
        parts.append(f"for {s.organization}")
    if s.proposal:
        approvals = f"{len(s.approvals)}/{len(s.approvals_needed)} approvals"
        parts.append(f"proposal {s.proposal} ({s.provider}, {approvals})")
    if s.engagement:
        parts.append(f"engagement {s.engagement}")
    return "; ".join(parts)
