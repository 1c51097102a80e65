"""Fixtures of the fault drills: homeservers of their own (a drill may stop them)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import _require_synapse


@pytest.fixture
async def own_homeserver(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator:
    """A Synapse for one drill only, always stopped afterwards."""
    _require_synapse()
    from partner_bots.homeserver.synapse import Homeserver

    server = Homeserver(tmp_path_factory.mktemp("drill-synapse"))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def own_federation(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list]:
    """Two federating Synapse servers for one drill only, always stopped afterwards."""
    _require_synapse()
    from partner_bots.homeserver.synapse import start_federation

    servers = await start_federation(tmp_path_factory.mktemp("drill-federation"))
    try:
        yield servers
    finally:
        for server in servers:
            await server.stop()
