"""Withdrawing an approval (the partner redacted its ✅) while the match is not final yet.

The core has approve and decline but no withdrawal: once every partner approved, the
engagement exists and a redaction changes nothing. Before that, the partner's approval is
taken off the proposal, audited, and the proposal's posts are edited back to pending.
"""

from __future__ import annotations

from dataclasses import dataclass

from coordinator.domain import DomainError, ProposalState
from coordinator.store.schema import proposals
from coordinator.usecases import rows
from coordinator.usecases.unit import Tx


@dataclass(frozen=True)
class Withdrawn:
    proposal: str
    approvals: tuple[str, ...]
    waiting_for: tuple[str, ...]


async def withdraw_approval(tx: Tx, proposal_id: str, partner: str) -> Withdrawn:
    prop = await rows.proposal(tx.conn, proposal_id, lock=True)
    if prop.state is not ProposalState.PENDING:
        raise DomainError(
            "match_final",
            f"Proposal {proposal_id} is {prop.state.value}; the approval can no longer be "
            "withdrawn.",
        )
    if partner not in prop.approvals:
        raise DomainError("no_approval", f"{partner} has not approved {proposal_id}.")
    approvals = tuple(a for a in prop.approvals if a != partner)
    await tx.conn.execute(
        proposals.update().where(proposals.c.id == proposal_id).values(approvals=list(approvals))
    )
    tx.audit("proposal.approval_withdrawn", proposal_id, partner=partner)
    waiting = tuple(p for p in prop.approvals_needed if p not in approvals)
    return Withdrawn(proposal_id, approvals, waiting)
