"""Staff actions from the dashboard: the same use cases as the room commands.

The Protocol names the subset of :class:`coordinator.usecases.Coordinator` the
dashboard calls, so every action leaves the same audit entries as ``!dsx vet``,
``!dsx remove`` and so on, with the staff member's Matrix id as the actor. The caller
is an ``Acting`` with ``staff=True``, built only from a signed-in staff session
(``dsx/web/staff.py``); what it may touch is the core's decision. Alone, the
web app gets the coordinator itself; inside ``dsx run`` the composition root passes the
room workflow's version, so a removal from the dashboard also updates the proposals
posted in the rooms, exactly as ``!dsx remove`` does.
"""

from __future__ import annotations

from typing import Protocol

from coordinator.usecases.acting import Acting
from coordinator.usecases.results import (
    CaseOutcome,
    IdentityConfirmation,
    RemovalResult,
    VetResult,
)


def staff_caller(staff_user: str) -> Acting:
    """The dashboard's only caller: the signed-in staff member, acting as staff."""
    return Acting(staff_user, None, staff=True)


class StaffActions(Protocol):
    async def vet(
        self, member_id: str, by: Acting | str | None = None, *, event_id: str | None = None
    ) -> VetResult: ...

    async def refuse(
        self, request_id: str, reason_code: str, *, by: Acting, event_id: str | None = None
    ) -> CaseOutcome: ...

    async def refer(
        self, request_id: str, to: str | None = None, *, by: Acting, event_id: str | None = None
    ) -> CaseOutcome: ...

    async def remove_member(
        self,
        member_id: str,
        reason_code: str,
        *,
        reason: str | None = None,  # free text, stored sealed
        by: Acting,
        event_id: str | None = None,
    ) -> RemovalResult: ...

    def pending_identities(self) -> dict[str, str]:
        """Members whose changed encryption identity waits for staff (user → master key)."""
        ...

    async def confirm_identity(
        self, user_id: str, *, actor: str, event_id: str | None = None
    ) -> IdentityConfirmation: ...
