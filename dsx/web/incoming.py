"""Acknowledging a public-form submission on the dashboard's incoming queue.

One transaction, audited like every use case (``coordinator/usecases/unit.py``): the
first staff member to acknowledge a submission is recorded with the time; acknowledging
one that does not exist or was already acknowledged changes nothing, is audited as
refused, and is answered the same way in both cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.audit_key import AuditKey
from coordinator.store.schema import intake_queue
from coordinator.usecases import unit


@dataclass(frozen=True)
class Acknowledgement:
    reference: str
    acknowledged: bool  # False: no such submission waiting (nothing changed)


async def acknowledge(
    engine: AsyncEngine, reference: str, *, staff: str, now: datetime, audit_key: AuditKey
) -> Acknowledgement:
    reference = reference.strip()[:40]

    async def body(tx: unit.Tx) -> Acknowledgement:
        done = await tx.conn.execute(
            intake_queue.update()
            .where(
                intake_queue.c.reference == reference,
                intake_queue.c.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=tx.now, acknowledged_by=staff)
        )
        ok = done.rowcount == 1
        tx.audit("intake.acknowledged" if ok else "intake.acknowledge_refused", reference or "-")
        return Acknowledgement(reference, ok)

    return await unit.run(
        engine,
        name="intake.acknowledge",
        actor=staff,
        now=now,
        event_id=None,
        result_type=Acknowledgement,
        body=body,
        audit_key=audit_key,
    )
