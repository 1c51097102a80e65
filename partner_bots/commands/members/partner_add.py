"""``!dsx partner add``: staff register a formal partner and its room."""

from __future__ import annotations

from coordinator.domain import DomainError
from coordinator.usecases.results import MemberResult
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen


@command(
    "partner add",
    Audience.STAFF,
    summary="Register a formal partner and its room.",
    example="!dsx partner add tenants-union !AbCdEf:example.org",
)
@frozen
class PartnerAddCommand:
    handle: str = arg(v.HANDLE, "a short handle for the partner")
    room: str = arg(v.ROOM, "the partner's room id or alias")

    async def run(self, ctx: CommandContext) -> Outcome:
        if not self.room.startswith("!"):
            raise DomainError("room_id_needed", "Give the room id (!…), not an alias.")
        result = await ctx.core.register_partner(
            self.handle, (self.room,), (), actor=ctx.sender, event_id=ctx.event_id
        )
        return reply(result)


def reply(result: MemberResult) -> Outcome:
    return Outcome(f"Partner {result.member} registered; invite me to its room and I will join.")
