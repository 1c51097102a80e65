"""``!dsx request``: file a request for an organization; it is routed at once."""

from __future__ import annotations

from coordinator.routing.models import Urgency
from coordinator.usecases.results import Filed
from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.registry import command
from partner_bots.commands.spec import Audience, arg, frozen, opt
from partner_bots.commands.wording import path_text


@command(
    "request",
    Audience.PARTNER,
    summary="File a request for help on behalf of an organization.",
    example='!dsx request "Legal Aid Society" skills=phishing,devices langs=en,es region=US-CA '
    'urgency=high note="staff phones seized at a protest"',
)
@frozen
class RequestCommand:
    org: str = arg(v.ORG, "the organization, as registered (quote names with spaces)")
    skills: tuple[str, ...] = opt(v.TAGS, "skills needed, comma separated")
    langs: tuple[str, ...] = opt(v.LANGS, "languages the organization speaks", default=())
    region: str | None = opt(v.REGION, "where help is needed", default=None)
    urgency: Urgency = opt(v.Choice(Urgency), "how urgent", default=Urgency.NORMAL)
    note: str | None = opt(v.NOTE, "what is going on (kept sealed)", default=None)

    async def run(self, ctx: CommandContext) -> Outcome:
        # The request lives in the room it was filed in, in a thread of its own that
        # starts at this command (or the thread it was sent in).
        filed = await ctx.core.file_request(
            ctx.for_partner(),
            self.org,
            self.skills,
            self.langs,
            self.region,
            Urgency(int(self.urgency)),
            self.note,
            room=ctx.room_id,
            thread=ctx.thread_root or ctx.event_id,
            event_id=ctx.event_id,
        )
        return reply(filed)


def reply(filed: Filed) -> Outcome:
    if filed.proposal:
        details = (
            f"Proposal {filed.proposal}: {filed.provider}",
            f"Vouching path: {path_text(filed.path)}",
            f"Approvals needed: {', '.join(filed.approvals_needed)}",
        )
        return Outcome(f"Request {filed.request} filed; a proposal follows.", details)
    if filed.referral_to:
        return Outcome(
            f"Request {filed.request} filed; it is outside the U.S.",
            (f"Refer it to {filed.referral_to} with `!dsx refer {filed.request}`.",),
        )
    return Outcome(
        f"Request {filed.request} filed ({filed.state}).",
        ("No provider is available right now; staff were told.",),
    )
