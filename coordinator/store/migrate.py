"""Apply Alembic migrations from code, on the async engine, without blocking the loop.

Alembic is synchronous; ``run_sync`` hands it the underlying connection on the
driver's greenlet. On PostgreSQL an advisory lock keeps two processes that start at
once from migrating the same database concurrently.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from coordinator.logs import get_logger
from coordinator.store.engine import create_engine, is_postgres, normalize_url

log = get_logger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK = 0x445358_01  # "DSX" + 1


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: sa.Connection, revision: str) -> str | None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
    return MigrationContext.configure(connection).get_current_revision()


def _current(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(url: str, revision: str = "head") -> str | None:
    """Bring the database at ``url`` to ``revision``; returns the revision now applied."""
    url = normalize_url(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            current = await conn.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()
    log.info("store.migrated", revision=current, postgres=is_postgres(url))
    return current


async def current_revision(url: str) -> str | None:
    engine = create_engine(normalize_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()
