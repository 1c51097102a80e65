"""A fake core for the commands' unit tests: it records each use-case call (which method,
with what) and answers with a typed result the test chose, or a default one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from coordinator.usecases.queries import RequestStatus
from coordinator.usecases.results import (
    AnchorResult,
    ApprovalResult,
    CaseOutcome,
    CloseResult,
    DeclineResult,
    Filed,
    IdentityConfirmation,
    MemberResult,
    PathResult,
    RemovalResult,
    ReviewResult,
    VetResult,
    VouchResult,
)
from coordinator.usecases.vetting import VettingQueue
from partner_bots.commands import REGISTRY, BotTools, CommandContext, Registry, dispatch
from partner_bots.standing import DeviceStanding, SenderDevice

TRUSTED = SenderDevice(DeviceStanding.TRUSTED, "DEVICE")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROOM = "!room:example.org"
SENDER = "@ana:example.org"

# A plausible answer for every use case a command calls (ids in their real shapes).
ANSWERS: dict[str, Any] = {
    "file_request": Filed(
        "r-1a2b3c4d", "proposed", None, "p-db065bbc", "@p:x", ("a", "@p:x"), ("a",), True
    ),
    "approve": ApprovalResult("p-db065bbc", "pending", ("a",), ("b",), None),
    "decline": DeclineResult("p-db065bbc", None, None, "unmatched"),
    "status": RequestStatus(
        "r-1a2b3c4d", "open", "normal", ("phishing",), "2026-03-01", None, None, None, (), (), None
    ),
    "open_requests": [],
    "add_organization": MemberResult("legal-aid", "organization", "applicant"),
    "reference": VouchResult("tenants", "legal-aid", "reference", True),
    "add_provider": MemberResult("@maria:example.org", "provider", "applicant"),
    "record_vouch": VouchResult("alpha", "@maria:example.org", "vouch", True),
    "withdraw_vouch": VouchResult("alpha", "@maria:example.org", "vouch", False),
    "vet": VetResult("@maria:example.org", True, "active", False, (), (), ("alpha", "@m:x")),
    "path": PathResult("alpha", "@maria:example.org", ("alpha", "@maria:example.org")),
    "close": CloseResult("e-4f1c2a9d", 3, False),
    "review": ReviewResult("e-4f1c2a9d", True, True, False, False),
    "remove_member": RemovalResult("@mallory:example.org", (), (), ()),
    "refer": CaseOutcome("r-1a2b3c4d", "referred", to="accessnow"),
    "refuse": CaseOutcome("r-1a2b3c4d", "refused", code="hatred"),
    "register_partner": MemberResult("tenants-union", "partner", "active"),
    "vetting_queue": VettingQueue((), 0),
    "anchor_audit": AnchorResult(True, 12, "ab" * 32),
    "transaction": IdentityConfirmation("@maria:example.org", "master-key"),
}


class Refused(Exception):
    """Shaped like the coordinator's DomainError: ``code`` and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class FakeCore:
    """Stands in for ``coordinator.usecases.Coordinator``: each use case records its call
    and returns ``answers[name]`` (raises it, if it is an exception)."""

    answers: dict[str, Any] = field(default_factory=dict)
    fail_with: Exception | None = None
    calls: list[Call] = field(default_factory=list)
    sealer: object | None = object()

    @property
    def ctx(self) -> Any:
        return SimpleNamespace(sealer=self.sealer, clock=lambda: NOW)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in ANSWERS:
            raise AttributeError(name)

        async def use_case(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(Call(name, args, kwargs))
            answer = self.answers.get(name, ANSWERS[name])
            if self.fail_with is not None:
                answer = self.fail_with
            if isinstance(answer, Exception):
                raise answer
            return answer

        return use_case

    @property
    def names(self) -> list[str]:
        return [call.name for call in self.calls]


@dataclass
class FakeIdentities:
    waiting: dict[str, str] = field(default_factory=dict)
    confirmed: list[tuple[str, str]] = field(default_factory=list)

    def pending(self) -> dict[str, str]:
        return dict(self.waiting)

    async def confirm(self, user_id: str, expected: str) -> bool:
        self.confirmed.append((user_id, expected))
        return True


def context(
    core: Any,
    *,
    staff: bool = False,
    member: bool = True,
    partner: str | None = "alpha",
    sender: str = SENDER,
    device: SenderDevice = TRUSTED,
    thread_root: str | None = None,
    tools: BotTools | None = None,
) -> CommandContext:
    return CommandContext(
        sender=sender,
        room_id=ROOM,
        core=core,
        partner=None if staff else partner,
        is_staff_room=staff,
        is_partner_member=member,
        event_id="$ev",
        thread_root=thread_root,
        device=device,
        tools=tools or BotTools(),
    )


async def say(text: str, ctx: CommandContext, registry: Registry = REGISTRY) -> Any:
    """Dispatch ``text`` (with the ``!dsx`` prefix) with the bot's own table."""
    return await dispatch(text, ctx, registry=registry)
