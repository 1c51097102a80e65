"""Staff actions from the dashboard: the same use cases as the room commands.

The Protocol names the subset of :class:`coordinator.usecases.Coordinator` the
dashboard calls, so every action leaves the same audit entries as ``!dsx vet``,
``!dsx remove`` and so on, with the staff member's Matrix id as the actor. Alone, the
web app gets the coordinator itself; inside ``dsx run`` the composition root passes the
room workflow's version, so a removal from the dashboard also updates the proposals
posted in the rooms, exactly as ``!dsx remove`` does.
"""

from __future__ import annotations

from typing import Protocol

from coordinator.usecases.results import (
    CaseOutcome,
    IdentityConfirmation,
    RemovalResult,
    VetResult,
)


class StaffActions(Protocol):
    async def vet(
        self, member_id: str, asking: str | None = None, *, actor: str, event_id: str | None = None
    ) -> VetResult: ...

    async def refuse(
        self, request_id: str, reason_code: str, *, actor: str, event_id: str | None = None
    ) -> CaseOutcome: ...

    async def refer(
        self, request_id: str, to: str | None = None, *, actor: str, event_id: str | None = None
    ) -> CaseOutcome: ...

    async def remove_member(
        self,
        member_id: str,
        reason_code: str,
        *,
        reason: str | None = None,  # free text, stored sealed
        actor: str,
        event_id: str | None = None,
    ) -> RemovalResult: ...

    def pending_identities(self) -> dict[str, str]:
        """Members whose changed encryption identity waits for staff (user → master key)."""
        ...

    async def confirm_identity(
        self, user_id: str, *, actor: str, event_id: str | None = None
    ) -> IdentityConfirmation: ...
