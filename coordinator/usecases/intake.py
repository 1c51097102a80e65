"""A submission from the public form: sealed, queued for its room, listed for staff.

Every field is sealed with the PUBLIC key before the transaction opens (with the room
it is routed to, sealed as one more row so delivery opens it there only); the sealed
rows, the audit entry, a content-free notice to the routing partner's room (providers:
the staff room), an ``intake_details`` row (the reference only; the Matrix side opens
and delivers the fields in the notice's thread) and the ``intake_queue`` row staff see
on the dashboard's incoming queue (kind, urgency, partner handle; no field) commit
together, in one use case under the core's lock like every other.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from coordinator import notifications as n
from coordinator.config import Config
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
from coordinator.usecases.context import Context
from coordinator.usecases.results import IntakeReceipt
from coordinator.usecases.unit import Tx

ACTOR = "web:public-form"


def routing_partner(config: Config) -> str | None:
    """Public requests go to the first configured partner that is not the global one."""
    return next((p.handle for p in config.partners if not p.is_global), None)


def new_reference(kind: FormKind) -> str:
    prefix = "c" if kind is FormKind.REQUEST else "a"
    return f"{prefix}-{secrets.token_hex(5)}"


def public_sealer(ctx: Context) -> PublicSealer:
    """The public key only: anything that can open blobs must never take a submission."""
    sealer = ctx.require_sealer()
    if not isinstance(sealer, PublicSealer):
        raise TypeError("a public-form submission is sealed with a PublicSealer only")
    return sealer


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


async def _room(ctx: Context, tx: Tx, kind: FormKind) -> tuple[n.RoomRef, str | None]:
    """The routing partner's default room (no request names one: delivery picks the
    partner's first encrypted room, ``partner_address``) and its handle, else the
    staff room (handle None)."""
    handle = routing_partner(ctx.config)
    if kind is FormKind.PROVIDER or not handle:
        return n.StaffRoom(ctx.staff_room), None
    rooms = (
        await tx.conn.execute(sa.select(partners.c.rooms).where(partners.c.handle == handle))
    ).scalar_one_or_none()
    if not rooms:
        return n.StaffRoom(ctx.staff_room), None
    return n.PartnerRoom(handle), handle


async def receive(
    ctx: Context,
    tx: Tx,
    submission: Submission,
    reference: str,
    blobs: list[dict[str, object]],
) -> IntakeReceipt:
    """Queue a submission already sealed into ``blobs`` (see the module docstring)."""
    sealer = public_sealer(ctx)
    receipt = IntakeReceipt(
        reference, submission.kind is FormKind.REQUEST and submission.outside_us
    )
    urgency = submission.urgency.name.lower()
    room, handle = await _room(ctx, tx, submission.kind)
    routed = sealed_row(sealer, reference, INTAKE_SCOPE, INTAKE_ROUTED_TO, room.address)
    await tx.conn.execute(sealed.insert(), [*blobs, routed])
    received = n.IntakeReceived(reference, submission.kind.value, urgency, receipt.referral)
    notice = await tx.notify(room, received)
    # The details follow in the notice's thread. This row names the submission only;
    # the delivery process opens the sealed fields just before sending.
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
