"""Shared fixtures: real PostgreSQL and SQLite databases, real Synapse homeservers.

Where ``CI=true``, a test that needs a real component fails when that component is
missing; elsewhere it is skipped with the reason, so a laptop without PostgreSQL can
still run the rest.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness.components import require
from tests.harness.postgres import PostgresServer

POSTGRES_URL = os.environ.get(
    "DSX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


# -- storage -------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def postgres_server() -> PostgresServer:
    server = PostgresServer(POSTGRES_URL)
    problem = await server.probe()
    require(problem is None, f"PostgreSQL at {POSTGRES_URL}: {problem}")
    return server


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy asyncpg URL), dropped afterwards."""
    name = f"dsx_test_{secrets.token_hex(6)}"
    await postgres_server.create_database(name)
    try:
        yield postgres_server.sqlalchemy_url(name)
    finally:
        await postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file in a temporary folder (SQLAlchemy aiosqlite URL)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Runs a storage test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
        return
    server = PostgresServer(POSTGRES_URL)
    problem = await server.probe()
    require(problem is None, f"PostgreSQL at {POSTGRES_URL}: {problem}")
    name = f"dsx_test_{secrets.token_hex(6)}"
    await server.create_database(name)
    try:
        yield server.sqlalchemy_url(name)
    finally:
        await server.drop_database(name)


# -- homeservers ---------------------------------------------------------------------


def _require_synapse() -> None:
    from partner_bots.homeserver.synapse import synapse_available

    require(synapse_available(), "matrix-synapse is not installed (pip install -e '.[homeserver]')")


@pytest.fixture(scope="session")
async def homeserver(tmp_path_factory: pytest.TempPathFactory):
    """One real Synapse on loopback, started once per test session."""
    _require_synapse()
    from partner_bots.homeserver.synapse import Homeserver

    server = Homeserver(tmp_path_factory.mktemp("synapse-single"))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def federation(tmp_path_factory: pytest.TempPathFactory):
    """Two real Synapse homeservers that federate with each other over TLS on loopback."""
    _require_synapse()
    from partner_bots.homeserver.synapse import start_federation

    servers = await start_federation(tmp_path_factory.mktemp("synapse-federation"))
    yield servers
    for server in servers:
        await server.stop()
