"""Staff sign-in without passwords: one-time links, sessions and API tokens.

The bot's delivery calls :meth:`StaffAuth.create_login_link` as it answers ``!dsx login``
in the staff room. Only SHA-256 digests of tokens are kept, in a
:class:`SecretStore`: ``dsx run`` uses :class:`DatabaseSecretStore` (table
``staff_grants``), so sessions and unused links survive a restart and every process
sharing the database honours them; a link is spent by one atomic DELETE, so it works
once even when two processes race for it. :class:`MemorySecretStore` is for tests.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.logs import get_logger
from coordinator.store.clock import aware
from coordinator.store.schema import staff_grants

log = get_logger(__name__)


class SecretKind(StrEnum):
    LOGIN_LINK = "login"
    SESSION = "session"
    API_TOKEN = "api"  # noqa: S105 (a kind label, not a secret)


@dataclass(frozen=True)
class Grant:
    kind: SecretKind
    staff: str
    expires_at: datetime


class SecretStore(Protocol):
    async def put(self, digest: str, grant: Grant) -> None: ...
    async def get(self, digest: str) -> Grant | None: ...
    async def pop(self, digest: str) -> Grant | None:
        """Remove and return; of several concurrent callers at most one gets the grant."""
        ...

    async def purge(self, now: datetime) -> int: ...


class MemorySecretStore:
    """One process, gone on restart: for tests and tools."""

    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}

    async def put(self, digest: str, grant: Grant) -> None:
        self._grants[digest] = grant

    async def get(self, digest: str) -> Grant | None:
        return self._grants.get(digest)

    async def pop(self, digest: str) -> Grant | None:
        return self._grants.pop(digest, None)

    async def purge(self, now: datetime) -> int:
        expired = [d for d, g in self._grants.items() if g.expires_at <= now]
        for digest in expired:
            del self._grants[digest]
        return len(expired)


def _utc(value: datetime) -> datetime:
    # SQLite keeps no offset: store and compare UTC only, so text order is time order.
    return value.astimezone(UTC)


def _grant(row: sa.Row) -> Grant:
    expires = aware(row.expires_at)
    assert expires is not None
    return Grant(SecretKind(row.kind), row.staff, expires)


class DatabaseSecretStore:
    """Grants in ``staff_grants`` (SQLite or PostgreSQL), keyed by digest."""

    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def put(self, digest: str, grant: Grant) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                staff_grants.insert().values(
                    digest=digest,
                    kind=grant.kind.value,
                    staff=grant.staff,
                    expires_at=_utc(grant.expires_at),
                )
            )

    async def get(self, digest: str) -> Grant | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(staff_grants).where(staff_grants.c.digest == digest))
            ).first()
        return None if row is None else _grant(row)

    async def pop(self, digest: str) -> Grant | None:
        # One statement: the database lets exactly one DELETE see the row, whichever
        # process sends it; the others get nothing back.
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    staff_grants.delete()
                    .where(staff_grants.c.digest == digest)
                    .returning(staff_grants.c.kind, staff_grants.c.staff, staff_grants.c.expires_at)
                )
            ).first()
        return None if row is None else _grant(row)

    async def purge(self, now: datetime) -> int:
        async with self._engine.begin() as conn:
            done = await conn.execute(
                staff_grants.delete().where(staff_grants.c.expires_at <= _utc(now))
            )
        return done.rowcount or 0


class NotStaff(PermissionError):
    """Only configured staff members get a login link or an API token."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffAuth:
    def __init__(
        self,
        *,
        public_url: str,
        staff_members: Iterable[str],
        session_minutes: int = 60,
        login_link_minutes: int = 10,
        api_token_days: int = 30,
        store: SecretStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._origin = public_url.rstrip("/")
        self._staff = frozenset(staff_members)
        self._session_ttl = timedelta(minutes=session_minutes)
        self._link_ttl = timedelta(minutes=login_link_minutes)
        self._api_ttl = timedelta(days=api_token_days)
        self._store: SecretStore = store if store is not None else MemorySecretStore()
        self._clock = clock

    def _check_staff(self, staff_user_id: str) -> None:
        if staff_user_id not in self._staff:
            raise NotStaff(f"{staff_user_id} is not a configured staff member")

    def _new(self, kind: SecretKind, staff: str, ttl: timedelta) -> tuple[str, Grant, datetime]:
        now = self._clock()
        return secrets.token_urlsafe(32), Grant(kind, staff, now + ttl), now

    async def _store_grant(self, token: str, grant: Grant, now: datetime) -> None:
        await self._store.purge(now)
        await self._store.put(digest(token), grant)

    async def _grant(self, kind: SecretKind, staff: str, ttl: timedelta) -> str:
        token, grant, now = self._new(kind, staff, ttl)
        await self._store_grant(token, grant, now)
        return token

    def _valid(self, grant: Grant | None, kind: SecretKind) -> Grant | None:
        if grant is None or grant.kind is not kind or grant.expires_at <= self._clock():
            return None
        if grant.staff not in self._staff:
            return None  # removed from staff since: the grant dies with the role
        return grant

    async def create_login_link(self, staff_user_id: str) -> str:
        """A short-lived, single-use sign-in URL for a staff member, stored (as a digest)
        before it is returned. The bot's delivery calls this right before it sends the
        reply to ``!dsx login`` (partner_bots/workflow/login.py), so no outbox row ever
        holds a usable link."""
        self._check_staff(staff_user_id)
        token = await self._grant(SecretKind.LOGIN_LINK, staff_user_id, self._link_ttl)
        log.info("web.login_link_issued")
        return f"{self._origin}/login/{token}"

    async def link_is_live(self, token: str) -> bool:
        grant = await self._store.get(digest(token))
        return self._valid(grant, SecretKind.LOGIN_LINK) is not None

    async def redeem(self, token: str) -> str | None:
        """Consume a login link; returns a new session token, or None."""
        grant = self._valid(await self._store.pop(digest(token)), SecretKind.LOGIN_LINK)
        if grant is None:
            return None
        return await self._grant(SecretKind.SESSION, grant.staff, self._session_ttl)

    async def session_staff(self, session_token: str | None) -> str | None:
        if not session_token:
            return None
        grant = self._valid(await self._store.get(digest(session_token)), SecretKind.SESSION)
        return grant.staff if grant else None

    async def end_session(self, session_token: str) -> None:
        await self._store.pop(digest(session_token))

    async def issue_api_token(self, staff_user_id: str) -> str:
        self._check_staff(staff_user_id)
        return await self._grant(SecretKind.API_TOKEN, staff_user_id, self._api_ttl)

    async def api_staff(self, token: str | None) -> str | None:
        if not token:
            return None
        grant = self._valid(await self._store.get(digest(token)), SecretKind.API_TOKEN)
        return grant.staff if grant else None
