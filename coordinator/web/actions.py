"""Staff actions from the dashboard: the same use cases as the room commands.

The Protocol names the subset of :class:`coordinator.usecases.Coordinator` the
dashboard calls, so the composition root passes the coordinator itself and every
action leaves the same audit entries as ``!dsx vet``, ``!dsx remove`` and so on, with
the staff member's Matrix id as the actor.
"""

from __future__ import annotations

from typing import Protocol

from coordinator.usecases.results import CaseOutcome, RemovalResult, VetResult


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
        code_of_conduct: bool = True,
        *,
        actor: str,
        event_id: str | None = None,
    ) -> RemovalResult: ...
