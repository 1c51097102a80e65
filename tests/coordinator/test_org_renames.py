"""Migration 0007 moves organizations whose id was their handle (their name) to opaque
ids; the coordinator then seals the handle as the name and rebinds their sealed rows
(coordinator/store/renames.py). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from coordinator.sealing import Binding, Opener, PublicSealer, generate_keypair
from coordinator.store import create_engine, migrate
from coordinator.store.renames import finish_renames
from coordinator.store.schema import (
    members,
    metadata,
    organization_renames,
    organizations,
    outbox,
    partners,
    providers,
    requests,
    sealed,
    vouches,
)
from coordinator.store.sealed import ORG_SCOPE, open_values

OLD = "canary-legal-aid"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _plain_tables(engine) -> str:
    """Every table but the sealed blobs, as text."""
    out = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table is sealed:
                rows = await conn.execute(sa.select(sealed.c.owner, sealed.c.scope, sealed.c.field))
            else:
                rows = await conn.execute(sa.select(table))
            out += [repr(tuple(r)) for r in rows]
    return "\n".join(out)


async def test_old_handles_become_opaque_ids_and_sealed_names(db_url):
    keys = generate_keypair()
    sealer, opener = PublicSealer(keys.public), Opener([keys])
    await migrate(db_url, "0006_intake_ack")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            for member, kind in (
                ("alpha", "partner"),
                (OLD, "organization"),
                ("@p:hs", "provider"),
            ):
                await conn.execute(
                    members.insert().values(id=member, kind=kind, status="active", created_at=NOW)
                )
            await conn.execute(
                partners.insert().values(handle="alpha", is_global=False, rooms=[], members=[])
            )
            await conn.execute(
                organizations.insert().values(
                    id=OLD, partner="alpha", region="US-CA", areas=[], archive_consent=False
                )
            )
            await conn.execute(
                providers.insert().values(
                    id="@p:hs",
                    skills=["devices"],
                    languages=["en"],
                    regions=[],
                    capacity=1,
                    tier="primary",
                    organizations=[OLD],
                )
            )
            await conn.execute(
                vouches.insert().values(author="alpha", target=OLD, kind="vouch", at=NOW)
            )
            await conn.execute(
                requests.insert().values(
                    id="r-1",
                    organization=OLD,
                    partner="alpha",
                    skills=["devices"],
                    languages=[],
                    urgency=1,
                    state="open",
                    filed_at=NOW,
                )
            )
            contact = Binding(OLD, ORG_SCOPE, "contact")
            await conn.execute(
                sealed.insert().values(
                    owner=OLD,
                    scope=ORG_SCOPE,
                    field="contact",
                    blob=sealer.seal("+1 555 0100", contact),
                )
            )
            await conn.execute(
                outbox.insert().values(
                    id="m-1",
                    room="partner:alpha",
                    kind="message",
                    content={"body": f"Proposal p-1 for request r-1 ({OLD})"},
                    created_at=NOW,
                    state="sent",
                    attempts=1,
                    available_at=NOW,
                    event_id="$e1",
                )
            )
        await migrate(db_url)
        before = await _plain_tables(engine)
        async with engine.connect() as conn:
            (rename,) = (await conn.execute(sa.select(organization_renames))).all()
        new = rename.id
        assert new.startswith("o-") and rename.old == OLD
        # Only the parked handle still names it; every other row uses the new id.
        assert before.count(OLD) == 1 and new in before

        # With the public key alone the contact cannot be rebound: the rename waits.
        assert await finish_renames(engine, sealer) == 0
        assert await finish_renames(engine, sealer, opener) == 1
        assert await open_values(engine, opener, new, ORG_SCOPE) == {
            "contact": "+1 555 0100",
            "name": OLD,
        }
        after = await _plain_tables(engine)
        assert OLD not in after and new in after
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(outbox.c.content))).scalar_one() is None
            assert (await conn.execute(sa.select(vouches.c.target))).scalar_one() == new
            assert (await conn.execute(sa.select(providers.c.organizations))).scalar_one() == [new]
    finally:
        await engine.dispose()
