"""What a command receives and returns: who sent it, where, and the core it calls.

A command calls the coordinator's use cases itself (``ctx.core``: the
``coordinator.usecases.Coordinator``; a fake in the commands' unit tests) with the
caller as the core sees it (``ctx.acting()``); the core checks what that caller may
touch. Refusals from a use case are exceptions with ``code`` and ``message`` (the
coordinator's DomainError has both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from coordinator.domain import DomainError
from coordinator.usecases.acting import Acting
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.standing import NO_DEVICE, SenderDevice

if TYPE_CHECKING:
    from coordinator.usecases import Coordinator
    from partner_bots.commands.registry import CommandSpec, Registry
    from partner_bots.workflow.identities import Identities
    from partner_bots.workflow.login import MintLink

# Refusals for who the caller is (not for what they named); the reply to each is
# audited. ``not_a_partner_room``: staff, or anyone outside a partner room, using a
# command that speaks in a partner's name (docs/security.md, "Who may do what").
NOT_A_PARTNER_ROOM = "not_a_partner_room"
REFUSAL_CODES = frozenset(
    {ErrorCode.NOT_ALLOWED, ErrorCode.STAFF_ONLY, NOT_A_PARTNER_ROOM, ErrorCode.UNTRUSTED_DEVICE}
)


@dataclass(frozen=True)
class Outcome:
    """What a command reports back; every string is treated as untrusted when rendered."""

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


@dataclass
class BotTools:
    """What a few staff commands need from the running bot besides the core: the sign-in
    link minter (``!dsx login``; None: no dashboard) and every account's identity pins
    (``!dsx identity confirm``; None: no bot)."""

    login: MintLink | None = None
    identities: Identities | None = None


class Command(Protocol):
    """Any parsed command: a frozen dataclass declared with ``registry.command``."""

    spec: ClassVar[CommandSpec]

    async def run(self, ctx: CommandContext) -> Outcome: ...


@dataclass(frozen=True)
class CommandContext:
    """Who sent the command, where, and what the caller has already decided about them."""

    sender: str
    room_id: str
    core: Coordinator
    partner: str | None = None  # the partner whose room this is (None: staff room, other)
    is_staff_room: bool = False
    is_partner_member: bool = False  # listed member or holds the configured power level
    event_id: str | None = None
    thread_root: str | None = None
    # The device that sent the command, decided by the bot from the event's megolm
    # session; unknown (nothing counts) unless the caller says otherwise.
    device: SenderDevice = NO_DEVICE
    tools: BotTools = field(default_factory=BotTools)
    registry: Registry | None = None  # the table the command was found in (help lists it)

    def for_partner(self) -> Acting:
        """The caller speaking in this room's partner's name, never one named in input,
        with the standing of the device the command came from (the core checks it too)."""
        if self.partner is None:
            raise DomainError(
                NOT_A_PARTNER_ROOM, "This command works only in a registered partner room."
            )
        return Acting(self.sender, self.partner, staff=False, device_trusted=self.device.counts)

    def acting(self) -> Acting:
        """Staff in the staff room, else this room's partner. What the caller may touch
        is the core's decision (coordinator/usecases/ownership.py), not this adapter's."""
        if self.is_staff_room:
            return Acting(self.sender, None, staff=True, device_trusted=self.device.counts)
        return self.for_partner()
