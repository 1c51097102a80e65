"""Sealed values open only with the private key, and survive a key rotation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.sealing import MisplacedBlob, Opener, PublicSealer, SealingError, generate_keypair
from coordinator.store.schema import sealed
from coordinator.store.sealed import open_values, reseal_all
from tests.coordinator.conftest import network


async def test_open_and_rotate(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["training"], note="needs help fast")
    old = Opener([c.test_keys])
    assert await open_values(c.engine, old, "o1") == {
        "name": "Canary Legal Aid",
        "contact": "canary@example.org",
    }
    assert await open_values(c.engine, old, "o1", filed.request) == {"note": "needs help fast"}

    new_keys = generate_keypair()
    assert await reseal_all(c.engine, old, PublicSealer(new_keys.public)) == 3
    with pytest.raises(SealingError):
        await open_values(c.engine, old, "o1")
    new = Opener([new_keys])
    assert (await open_values(c.engine, new, "o1"))["name"] == "Canary Legal Aid"


async def test_rotation_refuses_a_moved_blob_and_moves_nothing(coord):
    c = coord
    await network(c)
    await c.file_request("alpha", "o1", ["training"], note="needs help fast")
    async with c.engine.begin() as conn:
        name = (
            await conn.execute(
                sa.select(sealed.c.blob).where(sealed.c.owner == "o1", sealed.c.field == "name")
            )
        ).scalar_one()
        await conn.execute(
            sealed.update()
            .where(sealed.c.owner == "o1", sealed.c.field == "contact")
            .values(blob=name)
        )
    old = Opener([c.test_keys])
    with pytest.raises(MisplacedBlob):
        await open_values(c.engine, old, "o1")
    with pytest.raises(MisplacedBlob):
        await reseal_all(c.engine, old, PublicSealer(generate_keypair().public))
    async with c.engine.connect() as conn:
        blobs = (await conn.execute(sa.select(sealed.c.blob))).scalars().all()
    assert {old.key_id_of_blob(b) for b in blobs} == {c.test_keys.key_id}  # rolled back
