"""Async engine factory for the two supported databases.

SQLite: WAL so readers never block the writer, foreign keys on, ``secure_delete`` so
deleted personal data is overwritten, and ``BEGIN IMMEDIATE`` so a write transaction
takes the write lock up front (a deferred one can fail with "database is locked" when
it upgrades). PostgreSQL: asyncpg with a modest pool.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_MS = 30_000


def is_sqlite(url: str | sa.URL) -> bool:
    return str(url).startswith("sqlite")


def is_postgres(url: str | sa.URL) -> bool:
    return str(url).startswith("postgresql")


def normalize_url(url: str) -> str:
    """Accept the plain driver names an operator is likely to type."""
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


def create_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    url = normalize_url(url)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        _configure_sqlite(engine)
        return engine
    if is_postgres(url):
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
    raise ValueError("database url must be sqlite+aiosqlite:// or postgresql+asyncpg://")


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @sa.event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA secure_delete=ON",
            f"PRAGMA busy_timeout={SQLITE_BUSY_MS}",
            "PRAGMA synchronous=NORMAL",
        ):
            cursor.execute(pragma)
        cursor.close()

    @sa.event.listens_for(sync_engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
