"""A Services double that records each use-case call, so tests see which one ran and with what."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from partner_bots.commands import CommandContext, Outcome
from partner_bots.standing import DeviceStanding, SenderDevice

TRUSTED = SenderDevice(DeviceStanding.TRUSTED, "DEVICE")

USE_CASES = (
    "file_request",
    "approve",
    "decline",
    "status",
    "add_org",
    "ref_org",
    "add_provider",
    "vouch",
    "unvouch",
    "vet",
    "path",
    "close",
    "review",
    "remove",
    "refer",
    "refuse",
    "add_partner",
    "vetting_queue",
    "login_link",
    "confirm_identity",
    "audit_anchor",
)


class Refused(Exception):
    """Shaped like the coordinator's DomainError: ``code`` and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RecordingServices:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_with: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        if name not in USE_CASES:
            raise AttributeError(name)

        async def use_case(ctx: CommandContext, cmd: Any) -> Outcome:
            self.calls.append((name, cmd))
            if self.fail_with is not None:
                raise self.fail_with
            return Outcome(f"{name} done", (f"by {ctx.sender}",), (ctx.sender,))

        return use_case


def context(
    services: Any,
    *,
    staff: bool = False,
    member: bool = True,
    sender: str = "@ana:example.org",
    device: SenderDevice = TRUSTED,
) -> CommandContext:
    return CommandContext(
        sender=sender,
        room_id="!room:example.org",
        services=services,
        is_staff_room=staff,
        is_partner_member=member,
        event_id="$ev",
        device=device,
    )
