"""Whose words count: the standing of the device that sent an event, as the command layer
sees it (docs/security.md, "Whose words count").

The bot decides it from cryptography (``partner_bots.device_trust``); commands only read
it. A read-only command may be answered whatever the standing; a command that changes
state counts only when the device satisfies the room's device policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DeviceStanding(enum.Enum):
    TRUSTED = "trusted"  # the device satisfies the room's device policy
    NOT_CROSS_SIGNED = "not_cross_signed"  # its owner has not cross-signed it
    IDENTITY_CHANGED = "identity_changed"  # its owner's identity changed; staff have not confirmed
    UNKNOWN_DEVICE = "unknown_device"  # no device of the sender holds the event's session


@dataclass(frozen=True)
class SenderDevice:
    """The device behind one event: its id when known, and whether its commands count."""

    standing: DeviceStanding
    device_id: str | None = None

    @property
    def counts(self) -> bool:
        return self.standing is DeviceStanding.TRUSTED

    @classmethod
    def unknown(cls) -> SenderDevice:
        return NO_DEVICE


NO_DEVICE = SenderDevice(DeviceStanding.UNKNOWN_DEVICE)


# What a member is told when a state-changing command from this device is refused.
REFUSALS: dict[DeviceStanding, str] = {
    DeviceStanding.NOT_CROSS_SIGNED: (
        "I only act on this command from a verified device, and this one is not. Verify this "
        "device from one of your other sessions (cross-sign it), then send the command again. "
        "Nothing was changed."
    ),
    DeviceStanding.IDENTITY_CHANGED: (
        "Your encryption identity changed, so I do not act on your commands until staff "
        "confirm the new identity. Please ask them to. Nothing was changed."
    ),
    DeviceStanding.UNKNOWN_DEVICE: (
        "I could not tell which of your devices sent this, so I did not act on it. Verify "
        "this device (cross-sign it) and send the command again. Nothing was changed."
    ),
}
