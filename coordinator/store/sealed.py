"""Sealed personal data: storing it bound to its row, opening it for delivery, and moving
it to a new key.

Only the delivery process holds an ``Opener`` (the private keys); everything else
writes with the public key. Every blob is sealed for the row it is stored in (owner,
scope, field; see ``coordinator.sealing``), so a blob copied into another row does not
open there. Rotation reseals every row under the new key in one transaction, so the old
private key can be retired afterwards.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.sealing import Binding, Opener, PublicSealer, reseal
from coordinator.store.schema import sealed

ORG_SCOPE = "org"
# Organizations' ids: ``o-`` and random hex, assigned by the product (never a name).
ORGANIZATION_PREFIX = "o-"
# A public-form submission: owner is its case reference, one row per form field.
INTAKE_SCOPE = "intake"
# The outbox row that asks delivery to open a submission into its room. Its content holds
# the reference only; its room is ``INTAKE_ROOM + <room id>``, a queue of its own, so a
# row that cannot be opened (no private key) never holds up the room's other messages.
INTAKE_DETAILS = "intake_details"
INTAKE_ROOM = "intake:"
# A submission's own sealed record of the room it was routed to (not a form field: form
# field names never start with "_"). Delivery opens the details only into that room, so
# editing the outbox row's room or reference cannot send them elsewhere.
INTAKE_ROUTED_TO = "_routed_to"


def sealed_row(
    sealer: PublicSealer, owner: str, scope: str, field: str, text: str
) -> dict[str, Any]:
    """The values of one ``sealed`` row, its blob sealed for exactly that row."""
    blob = sealer.seal(text, Binding(owner, scope, field))
    return {"owner": owner, "scope": scope, "field": field, "blob": blob}


async def store(
    conn: AsyncConnection, sealer: PublicSealer, owner: str, scope: str, field: str, text: str
) -> None:
    """Seal ``text`` for its row and insert it, in the caller's transaction."""
    await conn.execute(sealed.insert().values(**sealed_row(sealer, owner, scope, field, text)))


def binding_of(row: Any) -> Binding:
    """The binding of a ``sealed`` row as read (its owner, scope and field columns)."""
    return Binding(row.owner, row.scope, row.field)


async def open_values(
    engine: AsyncEngine, opener: Opener, organization: str, scope: str = ORG_SCOPE
) -> dict[str, str]:
    """The organization's values in ``scope`` ("org" or a request id), opened: field → text.

    Raises ``MisplacedBlob`` if any row holds a blob sealed for another row: nothing of
    the owner's values is returned then."""
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(sealed.c.owner, sealed.c.scope, sealed.c.field, sealed.c.blob)
            .where(sealed.c.owner == organization, sealed.c.scope == scope)
            .order_by(sealed.c.id)
        )
        return {row.field: opener.open_text(row.blob, binding_of(row)) for row in found}


async def reseal_all(
    engine: AsyncEngine, opener: Opener, sealer: PublicSealer, batch: int = 500
) -> int:
    """Reseal every stored value under ``sealer``'s key; returns how many rows moved.

    A misplaced blob (``MisplacedBlob``) stops the rotation and rolls it back: it is
    never resealed into the row it was moved to."""
    moved = 0
    async with engine.begin() as conn:
        last = 0
        while True:
            rows = (
                await conn.execute(
                    sa.select(
                        sealed.c.id, sealed.c.owner, sealed.c.scope, sealed.c.field, sealed.c.blob
                    )
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
                    .values(blob=reseal(row.blob, opener, sealer, binding_of(row)))
                )
                moved += 1
            last = rows[-1].id
