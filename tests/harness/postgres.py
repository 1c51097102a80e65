"""Create and drop throw-away databases on a real PostgreSQL server."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg


class PostgresServer:
    def __init__(self, url: str):
        self.url = url

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.url, timeout=5)

    async def probe(self) -> str | None:
        """None when the server answers, else what went wrong."""
        try:
            conn = await self._connect()
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"
        await conn.close()
        return None

    async def create_database(self, name: str) -> None:
        conn = await self._connect()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop_database(self, name: str) -> None:
        conn = await self._connect()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def sqlalchemy_url(self, name: str) -> str:
        url = self.database_url(name)
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
