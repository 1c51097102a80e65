"""Sealed personal data: opening it for delivery, and moving it to a new key.

Only the delivery process holds an ``Opener`` (the private keys); everything else
writes with the public key. Rotation reseals every row under the new key in one
transaction, so the old private key can be retired afterwards.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.sealing import Opener, PublicSealer, reseal
from coordinator.store.schema import sealed

ORG_SCOPE = "org"
# A public-form submission: owner is its case reference, one row per form field.
INTAKE_SCOPE = "intake"
# The outbox row that asks delivery to open a submission into its room. Its content holds
# the reference only; its room is ``INTAKE_ROOM + <room id>``, a queue of its own, so a
# row that cannot be opened (no private key) never holds up the room's other messages.
INTAKE_DETAILS = "intake_details"
INTAKE_ROOM = "intake:"


async def open_values(
    engine: AsyncEngine, opener: Opener, organization: str, scope: str = ORG_SCOPE
) -> dict[str, str]:
    """The organization's values in ``scope`` ("org" or a request id), opened: field → text."""
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(sealed.c.field, sealed.c.blob)
            .where(sealed.c.owner == organization, sealed.c.scope == scope)
            .order_by(sealed.c.id)
        )
        return {row.field: opener.open_text(row.blob) for row in found}


async def reseal_all(
    engine: AsyncEngine, opener: Opener, sealer: PublicSealer, batch: int = 500
) -> int:
    """Reseal every stored value under ``sealer``'s key; returns how many rows moved."""
    moved = 0
    async with engine.begin() as conn:
        last = 0
        while True:
            rows = (
                await conn.execute(
                    sa.select(sealed.c.id, sealed.c.blob)
                    .where(sealed.c.id > last)
                    .order_by(sealed.c.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return moved
            for row in rows:
                await conn.execute(
                    sealed.update()
                    .where(sealed.c.id == row.id)
                    .values(blob=reseal(row.blob, opener, sealer))
                )
                moved += 1
            last = rows[-1].id
