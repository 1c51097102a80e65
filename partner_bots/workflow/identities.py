"""Staff confirm a member's changed encryption identity: from the staff room
(``!dsx identity confirm``) or the dashboard, audited the same way either way.

Until then the bot neither shares room keys with that member's devices nor counts their
commands (``partner_bots.device_trust``). The audit entry commits first and the pin is
moved after: a crash in between leaves the identity unconfirmed (staff confirm again),
never confirmed without a record.
"""

from __future__ import annotations

from typing import Protocol

from coordinator.domain import DomainError
from coordinator.usecases import Coordinator
from coordinator.usecases.results import IdentityConfirmation
from coordinator.usecases.unit import Tx


class Identities(Protocol):
    """``partner_bots.device_trust.IdentityConfirmations``."""

    def pending(self) -> dict[str, str]: ...

    async def confirm(self, user_id: str, expected: str) -> bool: ...


NOT_RUNNING = DomainError("bot_not_running", "Identities are confirmed through the running bot.")


def nothing_pending(user_id: str) -> DomainError:
    return DomainError(
        "no_identity_change", f"{user_id} has no changed identity waiting for confirmation."
    )


async def confirm_identity(
    coordinator: Coordinator,
    identities: Identities | None,
    user_id: str,
    *,
    actor: str,
    event_id: str | None = None,
) -> IdentityConfirmation:
    if identities is None:
        raise NOT_RUNNING
    key = identities.pending().get(user_id)
    if key is None:
        raise nothing_pending(user_id)

    async def body(tx: Tx) -> IdentityConfirmation:
        tx.audit("identity.confirmed", user_id, master_key=key)
        return IdentityConfirmation(user_id, key)

    result = await coordinator.transaction(
        "confirm_identity", body, IdentityConfirmation, actor, event_id
    )
    # Also on a redelivered event (the stored result): confirming twice changes nothing.
    await identities.confirm(result.user, result.master_key)
    return result
