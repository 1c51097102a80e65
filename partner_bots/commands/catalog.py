"""Every room command: its typed form, its help, and the use case it calls.

Adding a command is one class here. Examples are parsed by the tests, so they stay true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from coordinator.domain.model import VouchKind
from coordinator.routing.models import Urgency
from partner_bots.commands import values as v
from partner_bots.commands.context import Outcome
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.commands.registry import Registry, help_lines
from partner_bots.commands.spec import Audience, arg, opt

if TYPE_CHECKING:
    from partner_bots.commands.context import CommandContext, Services

REGISTRY = Registry()
command = REGISTRY.command
frozen = dataclass(frozen=True, kw_only=True)

PARTNER, STAFF, ANYONE = Audience.PARTNER, Audience.STAFF, Audience.ANYONE


@command(
    "request",
    PARTNER,
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

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.file_request(ctx, self)


@command(
    "approve",
    PARTNER,
    summary="Approve a proposed match (or react ✅ to the proposal).",
    example="!dsx approve P-12",
)
@frozen
class ApproveCommand:
    proposal: str = arg(v.REF, "the proposal id")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.approve(ctx, self)


@command(
    "decline",
    PARTNER,
    summary="Decline a proposed match (or react ❌); the next candidate is proposed.",
    example='!dsx decline P-12 reason="not available this month"',
)
@frozen
class DeclineCommand:
    proposal: str = arg(v.REF, "the proposal id")
    reason: str | None = opt(v.REASON, "why, for the record", default=None)

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.decline(ctx, self)


@command(
    "status",
    PARTNER,
    summary="Show your open cases, or one request, proposal or engagement.",
    example="!dsx status R-7",
    changes_state=False,
)
@frozen
class StatusCommand:
    id: str | None = arg(v.REF, "a request, proposal or engagement id", optional=True)

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.status(ctx, self)


@command(
    "org add",
    PARTNER,
    summary="Register an organization your partner works with.",
    example='!dsx org add "Legal Aid Society" region=US-CA areas=immigration,housing '
    'contact="Ana Ruiz, ana@example.org"',
)
@frozen
class OrgAddCommand:
    org: str = arg(v.ORG, "the organization's name (sealed; the bot gives it an id)")
    region: str | None = opt(v.REGION, "where it works", default=None)
    areas: tuple[str, ...] = opt(v.TAGS, "its fields of work", default=())
    contact: str | None = opt(v.REASON, "how to reach it (sealed)", default=None)
    note: str | None = opt(v.NOTE, "anything else to know (sealed)", default=None)

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.add_org(ctx, self)


@command(
    "org ref",
    PARTNER,
    summary="Record a reference for a new organization from one your partner brought in "
    "(two are needed). Organizations have no Matrix account: only the partner that added "
    "an organization records references in its name.",
    example='!dsx org ref "Legal Aid Society" from="Tenants Union"',
)
@frozen
class OrgRefCommand:
    org: str = arg(v.ORG, "the organization referred")
    from_: str = opt(
        v.ORG, "the organization giving the reference: one your partner added", key="from"
    )

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.ref_org(ctx, self)


@command(
    "provider add",
    PARTNER,
    summary="Propose a volunteer provider; they join once vouched for and vetted.",
    example="!dsx provider add @maria:example.org skills=phishing,devices langs=en,es "
    "regions=US-CA,remote capacity=2",
)
@frozen
class ProviderAddCommand:
    user: str = arg(v.USER, "the provider's Matrix id")
    skills: tuple[str, ...] = opt(v.TAGS, "what they can help with")
    langs: tuple[str, ...] = opt(v.LANGS, "languages they work in")
    regions: tuple[str, ...] = opt(v.REGIONS, "regions they serve")
    capacity: int = opt(v.IntRange(1, 50), "how many engagements at once")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.add_provider(ctx, self)


@command(
    "vouch",
    PARTNER,
    summary="Vouch for a member, or give a reference with as=reference.",
    example="!dsx vouch @maria:example.org as=reference",
)
@frozen
class VouchCommand:
    member: str = arg(v.MEMBER, "the member vouched for")
    as_: VouchKind = opt(
        v.Choice(VouchKind), "a full vouch or a reference", default=VouchKind.VOUCH, key="as"
    )

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.vouch(ctx, self)


@command(
    "unvouch",
    PARTNER,
    summary="Withdraw your vouch or reference for a member.",
    example="!dsx unvouch @maria:example.org",
)
@frozen
class UnvouchCommand:
    member: str = arg(v.MEMBER, "the member")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.unvouch(ctx, self)


@command(
    "vet",
    PARTNER,
    summary="Check whether a member is accepted by the trust rules, and why.",
    example="!dsx vet @maria:example.org",
)
@frozen
class VetCommand:
    member: str = arg(v.MEMBER, "the member to check")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.vet(ctx, self)


@command(
    "path",
    PARTNER,
    summary="Show the vouching paths to a member, from your partner or another member.",
    example="!dsx path @maria:example.org from=@ana:example.net",
    changes_state=False,
)
@frozen
class PathCommand:
    member: str = arg(v.MEMBER, "where the path ends")
    from_: str | None = opt(
        v.MEMBER, "where it starts (default: your partner)", default=None, key="from"
    )

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.path(ctx, self)


@command(
    "close",
    PARTNER,
    summary="Close an engagement; the organization's data is then purged.",
    example="!dsx close E-4 archive=no",
)
@frozen
class CloseCommand:
    engagement: str = arg(v.REF, "the engagement id")
    archive: bool = opt(v.YesNo(), "keep an offline archive (only with permission)", default=False)

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.close(ctx, self)


@command(
    "review",
    PARTNER,
    summary="Review a closed engagement: conduct, contract and communication, 1 to 5.",
    example='!dsx review E-4 conduct=5 contract=4 communication=5 note="clear and quick"',
)
@frozen
class ReviewCommand:
    engagement: str = arg(v.REF, "the engagement id")
    conduct: int = opt(v.IntRange(1, 5), "code of conduct")
    contract: int = opt(v.IntRange(1, 5), "kept what was agreed")
    communication: int = opt(v.IntRange(1, 5), "kept everyone informed")
    note: str | None = opt(v.NOTE, "anything else", default=None)

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.review(ctx, self)


@command(
    "refer",
    PARTNER,
    summary="Refer a non-U.S. request to a global partner.",
    example="!dsx refer R-7 to=accessnow",
)
@frozen
class ReferCommand:
    request: str = arg(v.REF, "the request id")
    to: str = opt(v.HANDLE, "the global partner's handle")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.refer(ctx, self)


@command(
    "remove",
    STAFF,
    summary="Remove a member from the network; affected cases are reported.",
    example='!dsx remove @mallory:example.org reason="code of conduct violation"',
)
@frozen
class RemoveCommand:
    member: str = arg(v.MEMBER, "the member")
    reason: str = opt(v.REASON, "why, for the record")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.remove(ctx, self)


@command(
    "refuse",
    STAFF,
    summary="Refuse a request as out of mandate; only the reason code and date are kept.",
    example="!dsx refuse R-7 reason=hatred",
)
@frozen
class RefuseCommand:
    request: str = arg(v.REF, "the request id")
    reason: str = opt(v.CODE, "a reason code")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.refuse(ctx, self)


@command(
    "partner add",
    STAFF,
    summary="Register a formal partner and its room.",
    example="!dsx partner add tenants-union !AbCdEf:example.org",
)
@frozen
class PartnerAddCommand:
    handle: str = arg(v.HANDLE, "a short handle for the partner")
    room: str = arg(v.ROOM, "the partner's room id or alias")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.add_partner(ctx, self)


@command(
    "queue",
    STAFF,
    summary="List the vetting queue: applicants, the trust rules' decision, vouching paths.",
    example="!dsx queue",
    changes_state=False,
)
@frozen
class QueueCommand:
    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.vetting_queue(ctx, self)


@command(
    "login",
    STAFF,
    summary="Get a one-time link to the staff dashboard, sent to your direct room with the bot.",
    example="!dsx login",
)
@frozen
class LoginCommand:
    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.login_link(ctx, self)


@command(
    "identity confirm",
    STAFF,
    summary="Accept a member's new encryption identity: their commands count again.",
    example="!dsx identity confirm @maria:example.org",
)
@frozen
class IdentityConfirmCommand:
    user: str = arg(v.USER, "the member whose identity changed")

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.confirm_identity(ctx, self)


@command(
    "audit anchor",
    STAFF,
    summary="Post the audit log's entry count and newest hash, to check the log against later.",
    example="!dsx audit anchor",
)
@frozen
class AuditAnchorCommand:
    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return await services.audit_anchor(ctx, self)


_TOPIC_WORDS = v.Pattern(
    v.re.compile(r"[a-z]{1,16}(?: [a-z]{1,16}){0,2}"), "<command>", "a command name", 50, True
)


@dataclass(frozen=True)
class _Topic:
    """A command name, checked against the table when parsed."""

    hint: str = "<command>"

    def parse(self, label: str, raw: str) -> str:
        topic = _TOPIC_WORDS.parse(label, " ".join(raw.split()))
        if REGISTRY.get(topic) is None:
            raise CommandError(
                ErrorCode.UNKNOWN_COMMAND, "There is no command by that name.", "!dsx help"
            )
        return topic


@command(
    "help",
    ANYONE,
    summary="List the commands, or explain one.",
    example="!dsx help org add",
    changes_state=False,
)
@frozen
class HelpCommand:
    topic: str | None = arg(_Topic(), "a command name", optional=True, greedy=True)

    async def run(self, services: Services, ctx: CommandContext) -> Outcome:
        return help_outcome(self.topic)


_GROUP_TITLES = {
    PARTNER: "Partner commands",
    STAFF: "Staff room commands",
    ANYONE: "For everyone",
}


def help_outcome(topic: str | None) -> Outcome:
    """The command list, or one command's help; unknown topics are an error."""
    if topic is None:
        details: list[str] = []
        for audience, specs in REGISTRY.by_audience().items():
            if specs:
                details.append(f"{_GROUP_TITLES[audience]}:")
                details += [f"  {spec.syntax} — {spec.summary}" for spec in specs]
        return Outcome(
            "DSX coordinator commands. Send “!dsx help NAME” for one command.", tuple(details)
        )
    spec = REGISTRY.get(topic)
    if spec is None:
        raise CommandError(
            ErrorCode.UNKNOWN_COMMAND, "There is no command by that name.", "!dsx help"
        )
    lines = help_lines(spec)
    return Outcome(lines[0], lines[1:])
