"""``!dsx queue``: the vetting queue, oldest first, with the trust rules' decision."""

from __future__ import annotations

from datetime import datetime, timedelta

from coordinator.usecases import vetting
from coordinator.usecases.vetting import QueueEntry, VettingQueue
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, frozen


@command(
    "queue",
    Audience.STAFF,
    summary="List the vetting queue: applicants, the trust rules' decision, vouching paths.",
    example="!dsx queue",
    changes_state=False,
)
@frozen
class QueueCommand:
    async def run(self, ctx: CommandContext) -> Outcome:
        return reply(await ctx.core.vetting_queue(), ctx.core.ctx.clock())


def reply(found: VettingQueue, now: datetime) -> Outcome:
    if not found.total:
        return Outcome("Nobody is waiting for vetting.")
    lines = [_line(e, now) for e in found.entries]
    if found.total > len(found.entries):
        lines.append(f"… and {found.total - len(found.entries)} more on /dashboard/vetting.")
    ready = sum(1 for e in found.entries if e.eligible)
    return Outcome(
        f"{found.total} waiting for vetting, oldest first; {ready} meet the trust rules.",
        tuple(lines),
    )


def _age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


def _line(e: QueueEntry, now: datetime) -> str:
    """One applicant: who, how long, the decision, the paths (handles only)."""
    return (
        f"{e.member} ({e.kind}, waiting {_age(now - e.waiting_since)}): "
        f"{vetting.decision_text(e)} Paths: {vetting.format_paths(e.paths)}; "
        f"vouches {e.vouches}, references {e.references}."
    )
