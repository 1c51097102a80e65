"""The dashboard's staff actions, run the way the room commands run them.

The web app only knows the ``StaffActions`` protocol. Inside ``dsx run`` it gets this
adapter, so removing a member from the dashboard edits the cancelled proposals and posts
the next candidates in the rooms' threads, exactly as ``!dsx remove`` in the staff room.
The caller is passed through untouched: the core checks what it may do.
"""

from __future__ import annotations

from coordinator.usecases import Coordinator
from coordinator.usecases.acting import Acting
from coordinator.usecases.results import (
    CaseOutcome,
    IdentityConfirmation,
    RemovalResult,
    VetResult,
)
from partner_bots.workflow.identities import confirm_identity
from partner_bots.workflow.services import WorkflowServices


class WorkflowStaffActions:
    def __init__(self, coordinator: Coordinator, services: WorkflowServices):
        self._coordinator = coordinator
        self._services = services

    async def vet(
        self, member_id: str, by: Acting | str | None = None, *, event_id: str | None = None
    ) -> VetResult:
        return await self._coordinator.vet(member_id, by, event_id=event_id)

    async def refuse(
        self, request_id: str, reason_code: str, *, by: Acting, event_id: str | None = None
    ) -> CaseOutcome:
        return await self._coordinator.refuse(request_id, reason_code, by=by, event_id=event_id)

    async def refer(
        self, request_id: str, to: str | None = None, *, by: Acting, event_id: str | None = None
    ) -> CaseOutcome:
        return await self._coordinator.refer(request_id, to, by=by, event_id=event_id)

    async def remove_member(
        self,
        member_id: str,
        reason_code: str,
        *,
        reason: str | None = None,
        by: Acting,
        event_id: str | None = None,
    ) -> RemovalResult:
        return await self._services.remove_member(
            member_id, reason_code, reason, by=by, event_id=event_id
        )

    def pending_identities(self) -> dict[str, str]:
        identities = self._services.identities
        return identities.pending() if identities is not None else {}

    async def confirm_identity(
        self, user_id: str, *, actor: str, event_id: str | None = None
    ) -> IdentityConfirmation:
        return await confirm_identity(
            self._coordinator, self._services.identities, user_id, actor=actor, event_id=event_id
        )
