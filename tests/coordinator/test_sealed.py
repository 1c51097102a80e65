"""Sealed values open only with the private key, and survive a key rotation."""

from __future__ import annotations

import pytest

from coordinator.sealing import Opener, PublicSealer, SealingError, generate_keypair
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
