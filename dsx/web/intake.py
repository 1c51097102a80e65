"""Filing a public form: a port the views call, and its adapter onto the core.

The core has no use case yet for a submission from the public form (``file_request``
needs a vetted organization and a partner acting for it), so :class:`CoreIntake` is a
thin adapter over the core's unit of work: every field is sealed with the PUBLIC key
before the transaction opens (with the room it is routed to, sealed as one more row so
delivery opens it there only), the sealed rows, the audit entry, a content-free notice
to the routing partner's room (providers: the staff room) and an ``intake_details`` row
(the reference only; ``partner_bots.workflow.intake`` opens and delivers the fields in
the notice's thread) commit together, with the ``intake_queue`` row staff see on the
dashboard's incoming queue (kind, urgency, partner handle; no field).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator import notifications as n
from coordinator.audit_key import AuditKey
from coordinator.forms import FormKind, Submission
from coordinator.sealing import PublicSealer
from coordinator.store.outbox import ref
from coordinator.store.schema import intake_queue, partners, sealed
from coordinator.store.sealed import (
    INTAKE_DETAILS,
    INTAKE_ROOM,
    INTAKE_ROUTED_TO,
    INTAKE_SCOPE,
    sealed_row,
)
from coordinator.usecases import unit

__all__ = ["INTAKE_SCOPE", "CoreIntake", "IntakeReceipt", "IntakeService"]


@dataclass(frozen=True)
class IntakeReceipt:
    reference: str
    referral: bool  # outside the U.S.: marked for the global partner


class IntakeService(Protocol):
    async def submit(self, submission: Submission) -> IntakeReceipt: ...


def new_reference(kind: FormKind) -> str:
    prefix = "c" if kind is FormKind.REQUEST else "a"
    return f"{prefix}-{secrets.token_hex(5)}"


def seal_fields(
    sealer: PublicSealer, reference: str, submission: Submission
) -> list[dict[str, object]]:
    """One ``sealed`` row per non-empty field, under the form's own field name, each blob
    sealed for its row (the submission's reference, the intake scope and that field)."""
    return [
        sealed_row(sealer, reference, INTAKE_SCOPE, name, submission.text(name))
        for name in submission.values
        if submission.text(name)
    ]


class CoreIntake:
    def __init__(
        self,
        engine: AsyncEngine,
        sealer: PublicSealer,
        *,
        staff_room: str,
        audit_key: AuditKey,
        routing_partner: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        if not isinstance(sealer, PublicSealer):
            # Anything that can open blobs must never reach the web process.
            raise TypeError("the web process takes a PublicSealer (public key) only")
        self._engine = engine
        self._sealer = sealer
        self._staff_room = staff_room
        self._routing_partner = routing_partner
        self._clock = clock
        self._audit_key = audit_key

    async def _room(self, tx: unit.Tx, kind: FormKind) -> tuple[n.RoomRef, str | None]:
        """The routing partner's default room (no request names one: delivery picks the
        partner's first encrypted room, ``partner_address``) and its handle, else the
        staff room (handle None)."""
        if kind is FormKind.PROVIDER or not self._routing_partner:
            return n.StaffRoom(self._staff_room), None
        rooms = (
            await tx.conn.execute(
                sa.select(partners.c.rooms).where(partners.c.handle == self._routing_partner)
            )
        ).scalar_one_or_none()
        if not rooms:
            return n.StaffRoom(self._staff_room), None
        return n.PartnerRoom(self._routing_partner), self._routing_partner

    async def submit(self, submission: Submission) -> IntakeReceipt:
        reference = new_reference(submission.kind)
        blobs = seal_fields(self._sealer, reference, submission)
        receipt = IntakeReceipt(
            reference, submission.kind is FormKind.REQUEST and submission.outside_us
        )
        urgency = submission.urgency.name.lower()

        async def body(tx: unit.Tx) -> IntakeReceipt:
            room, handle = await self._room(tx, submission.kind)
            routed = sealed_row(
                self._sealer, reference, INTAKE_SCOPE, INTAKE_ROUTED_TO, room.address
            )
            await tx.conn.execute(sealed.insert(), [*blobs, routed])
            received = n.IntakeReceived(reference, submission.kind.value, urgency, receipt.referral)
            notice = await tx.notify(room, received)
            # The details follow in the notice's thread. This row names the submission
            # only; the delivery process opens the sealed fields just before sending.
            await tx.send(
                INTAKE_ROOM + room.address,
                {"reference": reference, "form": submission.kind.value},
                kind=INTAKE_DETAILS,
                thread_of=ref(notice),
            )
            await tx.conn.execute(
                intake_queue.insert().values(
                    reference=reference,
                    form=submission.kind.value,
                    urgency=urgency,
                    routed_to=handle,
                    referral=receipt.referral,
                    received_at=tx.now,
                )
            )
            tx.audit(
                "intake.received",
                reference,
                form=submission.kind.value,
                urgency=urgency,
                referral=receipt.referral,
                fields=len(blobs),
            )
            return receipt

        return await unit.run(
            self._engine,
            name="intake.submit",
            actor="web:public-form",
            now=self._clock(),
            event_id=None,
            result_type=IntakeReceipt,
            body=body,
            audit_key=self._audit_key,
        )
