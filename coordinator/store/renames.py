"""Finishing the move of old organizations to opaque ids (migration 0007).

The migration gave every organization whose id was its handle (and so its name) an
opaque id, but it holds no key: it parks the old handle in ``organization_renames``.
Here, with the public key, the handle is sealed as the organization's name (unless a
name is sealed already); with the private key too, the organization's sealed rows,
bound to the old id, are opened and sealed again for the new one. Only then is the
parked handle deleted, so no value is lost and no plaintext name stays behind.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.logs import get_logger
from coordinator.sealing import Binding, Opener, PublicSealer, SealingError
from coordinator.store.schema import organization_renames, sealed
from coordinator.store.sealed import ORG_SCOPE, sealed_row

log = get_logger(__name__)


async def finish_renames(
    engine: AsyncEngine, sealer: PublicSealer | None, opener: Opener | None = None
) -> int:
    """Seal and rebind what the migration parked; returns how many renames finished."""
    if sealer is None:
        return 0
    finished = 0
    async with engine.begin() as conn:
        parked = (await conn.execute(sa.select(organization_renames))).all()
        for rename in parked:
            rows = (
                await conn.execute(
                    sa.select(sealed.c.id, sealed.c.scope, sealed.c.field, sealed.c.blob).where(
                        sealed.c.owner == rename.id
                    )
                )
            ).all()
            if rows and opener is None:
                continue  # rebinding needs the private key: the bot role finishes it
            try:
                for row in rows:
                    assert opener is not None
                    text = opener.open_text(row.blob, Binding(rename.old, row.scope, row.field))
                    fresh = sealer.seal(text, Binding(rename.id, row.scope, row.field))
                    await conn.execute(
                        sealed.update().where(sealed.c.id == row.id).values(blob=fresh)
                    )
            except SealingError:
                log.warning("renames.not_rebound")
                continue
            has_name = any(r.scope == ORG_SCOPE and r.field == "name" for r in rows)
            if not has_name:
                await conn.execute(
                    sealed.insert().values(
                        **sealed_row(sealer, rename.id, ORG_SCOPE, "name", rename.old)
                    )
                )
            await conn.execute(
                organization_renames.delete().where(organization_renames.c.id == rename.id)
            )
            finished += 1
    if finished:
        log.info("renames.finished", count=finished)
    return finished
