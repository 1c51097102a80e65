"""What a handler receives and returns, and the use cases it may call.

The coordinator's use cases sit behind ``Services`` so this package stays free of storage and
network code; the composition root provides an adapter. Refusals from a use case are
exceptions with ``code`` and ``message`` (the coordinator's DomainError has both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.standing import NO_DEVICE, SenderDevice

if TYPE_CHECKING:
    from partner_bots.commands import catalog as c
    from partner_bots.commands.registry import CommandSpec

# Refusals for who the caller is (not for what they named); the reply to each is
# audited. ``not_a_partner_room``: staff, or anyone outside a partner room, using a
# command that speaks in a partner's name (docs/security.md, "Who may do what").
REFUSAL_CODES = frozenset(
    {ErrorCode.NOT_ALLOWED, ErrorCode.STAFF_ONLY, "not_a_partner_room", ErrorCode.UNTRUSTED_DEVICE}
)


@dataclass(frozen=True)
class Outcome:
    """What a use case reports back; every string is treated as untrusted when rendered."""

    summary: str
    details: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()  # user ids to mention explicitly


@dataclass(frozen=True)
class Reply:
    """The answer to one message; render it with ``partner_bots.render.reply_content``."""

    command: str
    ok: bool
    summary: str
    details: tuple[str, ...] = ()
    error: CommandError | None = None
    mentions: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        """An authorization refusal: the caller records it in the audit log."""
        return self.error is not None and self.error.code in REFUSAL_CODES

    @classmethod
    def success(cls, command: str, outcome: Outcome) -> Reply:
        return cls(command, True, outcome.summary, outcome.details, None, outcome.mentions)

    @classmethod
    def failure(cls, command: str, error: CommandError) -> Reply:
        return cls(command, False, error.message, (), error)


class Services(Protocol):
    """One async method per use case the room commands call."""

    async def file_request(self, ctx: CommandContext, cmd: c.RequestCommand) -> Outcome: ...
    async def approve(self, ctx: CommandContext, cmd: c.ApproveCommand) -> Outcome: ...
    async def decline(self, ctx: CommandContext, cmd: c.DeclineCommand) -> Outcome: ...
    async def status(self, ctx: CommandContext, cmd: c.StatusCommand) -> Outcome: ...
    async def add_org(self, ctx: CommandContext, cmd: c.OrgAddCommand) -> Outcome: ...
    async def ref_org(self, ctx: CommandContext, cmd: c.OrgRefCommand) -> Outcome: ...
    async def add_provider(self, ctx: CommandContext, cmd: c.ProviderAddCommand) -> Outcome: ...
    async def vouch(self, ctx: CommandContext, cmd: c.VouchCommand) -> Outcome: ...
    async def unvouch(self, ctx: CommandContext, cmd: c.UnvouchCommand) -> Outcome: ...
    async def vet(self, ctx: CommandContext, cmd: c.VetCommand) -> Outcome: ...
    async def path(self, ctx: CommandContext, cmd: c.PathCommand) -> Outcome: ...
    async def close(self, ctx: CommandContext, cmd: c.CloseCommand) -> Outcome: ...
    async def review(self, ctx: CommandContext, cmd: c.ReviewCommand) -> Outcome: ...
    async def remove(self, ctx: CommandContext, cmd: c.RemoveCommand) -> Outcome: ...
    async def refer(self, ctx: CommandContext, cmd: c.ReferCommand) -> Outcome: ...
    async def refuse(self, ctx: CommandContext, cmd: c.RefuseCommand) -> Outcome: ...
    async def add_partner(self, ctx: CommandContext, cmd: c.PartnerAddCommand) -> Outcome: ...
    async def vetting_queue(self, ctx: CommandContext, cmd: c.QueueCommand) -> Outcome: ...
    async def login_link(self, ctx: CommandContext, cmd: c.LoginCommand) -> Outcome: ...
    async def confirm_identity(
        self, ctx: CommandContext, cmd: c.IdentityConfirmCommand
    ) -> Outcome: ...
    async def audit_anchor(self, ctx: CommandContext, cmd: c.AuditAnchorCommand) -> Outcome: ...


class Command(Protocol):
    """Any parsed command: a frozen dataclass declared in the catalog."""

    spec: ClassVar[CommandSpec]

    async def run(self, services: Services, ctx: CommandContext) -> Outcome: ...


@dataclass(frozen=True)
class CommandContext:
    """Who sent the command, where, and what the caller has already decided about them."""

    sender: str
    room_id: str
    services: Services
    is_staff_room: bool = False
    is_partner_member: bool = False  # listed member or holds the configured power level
    event_id: str | None = None
    thread_root: str | None = None
    # The device that sent the command, decided by the bot from the event's megolm
    # session; unknown (nothing counts) unless the caller says otherwise.
    device: SenderDevice = NO_DEVICE
