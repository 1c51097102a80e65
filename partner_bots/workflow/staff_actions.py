"""The dashboard's staff actions inside ``dsx run``: the core's use cases, plus the
identity pins only the running bot holds.

The web app only knows the ``StaffActions`` protocol. Alone it gets the coordinator
itself; inside ``dsx run`` it gets this adapter, whose vet, refuse, refer and removal
are the coordinator's own (a removal from the dashboard edits the cancelled proposals
and posts the next candidates, queued by the core itself and threaded at delivery,
exactly as ``!dsx remove`` does) and whose identity confirmations reach the bot. The
caller is passed through untouched: the core checks what it may do.
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
from partner_bots.commands import BotTools
from partner_bots.workflow.identities import confirm_identity


class WorkflowStaffActions:
    def __init__(self, coordinator: Coordinator, tools: BotTools):
        self._coordinator = coordinator
        self._tools = tools

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
        return await self._coordinator.remove_member(
            member_id, reason_code, reason=reason, by=by, event_id=event_id
        )

    def pending_identities(self) -> dict[str, str]:
        identities = self._tools.identities
        return identities.pending() if identities is not None else {}

    async def confirm_identity(
        self, user_id: str, *, actor: str, event_id: str | None = None
    ) -> IdentityConfirmation:
        return await confirm_identity(
            self._coordinator, self._tools.identities, user_id, actor=actor, event_id=event_id
        )
