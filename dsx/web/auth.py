"""Staff sign-in without passwords: one-time links, sessions and API tokens.

The bot's delivery calls :meth:`StaffAuth.create_login_link` as it answers ``!dsx login``
in the staff room. Only SHA-256 digests of tokens are kept, in a
:class:`SecretStore`: ``dsx run`` uses :class:`DatabaseSecretStore` (table
``staff_grants``), so sessions and unused links survive a restart and every process
sharing the database honours them; a link is spent by one atomic DELETE, so it works
once even when two processes race for it. :class:`MemorySecretStore` is for tests.

API tokens also carry a public id and a label, so staff (on the dashboard, their own) and
operators (``dsx tokens``, all) can list and revoke them without ever seeing the secret
again; revoking deletes the row, so the next request with the token is refused. Each use
records when it happened (to the minute, to keep writes rare).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.audit import AuditRecord, append
from coordinator.audit_key import AuditKey
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
    # API tokens only: what lists show instead of the secret.
    token_id: str | None = None
    label: str | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None


TOUCH_EVERY = timedelta(minutes=1)  # last use is recorded at most this often per token
LABEL_MAX = 100


class SecretStore(Protocol):
    async def put(self, digest: str, grant: Grant) -> None: ...
    async def get(self, digest: str) -> Grant | None: ...
    async def pop(self, digest: str) -> Grant | None:
        """Remove and return; of several concurrent callers at most one gets the grant."""
        ...

    async def purge(self, now: datetime) -> int: ...

    async def api_tokens(self, staff: str | None) -> list[Grant]:
        """API tokens (all staff members' when ``staff`` is None), newest first."""
        ...

    async def revoke(self, token_id: str, staff: str | None, actor: str, now: datetime) -> bool:
        """Delete the API token ``token_id`` (only ``staff``'s, unless None); audited."""
        ...

    async def touch(self, digest: str, now: datetime) -> None:
        """Record a use of the grant (at most once per ``TOUCH_EVERY``)."""
        ...


def _newest_first(grants: Iterable[Grant]) -> list[Grant]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(grants, key=lambda g: (g.created_at or epoch, g.token_id or ""), reverse=True)


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

    async def api_tokens(self, staff: str | None) -> list[Grant]:
        return _newest_first(
            g
            for g in self._grants.values()
            if g.kind is SecretKind.API_TOKEN and staff in (None, g.staff)
        )

    async def revoke(self, token_id: str, staff: str | None, actor: str, now: datetime) -> bool:
        for digest, g in list(self._grants.items()):
            if (
                g.kind is SecretKind.API_TOKEN
                and g.token_id == token_id
                and staff in (None, g.staff)
            ):
                del self._grants[digest]
                return True
        return False

    async def touch(self, digest: str, now: datetime) -> None:
        g = self._grants.get(digest)
        if g is not None and (g.last_used_at is None or now - g.last_used_at >= TOUCH_EVERY):
            self._grants[digest] = replace(g, last_used_at=now)


def _utc(value: datetime) -> datetime:
    # SQLite keeps no offset: store and compare UTC only, so text order is time order.
    return value.astimezone(UTC)


def _grant(row: sa.Row) -> Grant:
    expires = aware(row.expires_at)
    assert expires is not None
    extra = row._mapping
    return Grant(
        SecretKind(row.kind),
        row.staff,
        expires,
        token_id=extra.get("token_id"),
        label=extra.get("label"),
        created_at=aware(extra.get("created_at")),
        last_used_at=aware(extra.get("last_used_at")),
    )


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


class DatabaseSecretStore:
    """Grants in ``staff_grants`` (SQLite or PostgreSQL), keyed by digest. Revoking is
    audited, so a store that revokes needs the audit key; one that only reads does not."""

    def __init__(self, engine: AsyncEngine, audit_key: AuditKey | None = None):
        self._engine = engine
        self._audit_key = audit_key

    async def put(self, digest: str, grant: Grant) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                staff_grants.insert().values(
                    digest=digest,
                    kind=grant.kind.value,
                    staff=grant.staff,
                    expires_at=_utc(grant.expires_at),
                    token_id=grant.token_id,
                    label=grant.label,
                    created_at=_utc_or_none(grant.created_at),
                    last_used_at=_utc_or_none(grant.last_used_at),
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

    async def api_tokens(self, staff: str | None) -> list[Grant]:
        query = sa.select(staff_grants).where(staff_grants.c.kind == SecretKind.API_TOKEN.value)
        if staff is not None:
            query = query.where(staff_grants.c.staff == staff)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return _newest_first(_grant(r) for r in rows)

    async def revoke(self, token_id: str, staff: str | None, actor: str, now: datetime) -> bool:
        if self._audit_key is None:
            raise TypeError("revoking a token is audited: give the store the audit key")
        where = sa.and_(
            staff_grants.c.kind == SecretKind.API_TOKEN.value,
            staff_grants.c.token_id == token_id,
        )
        if staff is not None:
            where = sa.and_(where, staff_grants.c.staff == staff)
        async with self._engine.begin() as conn:
            done = await conn.execute(staff_grants.delete().where(where))
            revoked = bool(done.rowcount)
            # A refusal (unknown id, or another staff member's token) is audited too.
            action = "api_token.revoked" if revoked else "api_token.revoke_refused"
            await append(conn, [AuditRecord(actor, action, token_id[:64])], now, self._audit_key)
        return revoked

    async def touch(self, digest: str, now: datetime) -> None:
        cutoff = _utc(now - TOUCH_EVERY)
        async with self._engine.begin() as conn:
            await conn.execute(
                staff_grants.update()
                .where(staff_grants.c.digest == digest)
                .where(
                    sa.or_(
                        staff_grants.c.last_used_at.is_(None),
                        staff_grants.c.last_used_at <= cutoff,
                    )
                )
                .values(last_used_at=_utc(now))
            )


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
        api_token_days: int = 7,
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

    @property
    def login_link_minutes(self) -> int:
        """How long a sign-in link works (said in the bot's message that carries it)."""
        return int(self._link_ttl.total_seconds() // 60)

    @property
    def staff_members(self) -> frozenset[str]:
        """The configured staff members (whom a case can be handed over to)."""
        return self._staff

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

    @property
    def api_token_days(self) -> int:
        return self._api_ttl.days

    async def issue_api_token(self, staff_user_id: str, label: str = "") -> str:
        """A new API token; only its digest, id, label and times are stored."""
        self._check_staff(staff_user_id)
        now = self._clock()
        token = secrets.token_urlsafe(32)
        grant = Grant(
            SecretKind.API_TOKEN,
            staff_user_id,
            now + self._api_ttl,
            token_id=secrets.token_hex(6),
            label=" ".join(label.split())[:LABEL_MAX] or "API token",
            created_at=now,
        )
        await self._store_grant(token, grant, now)
        return token

    async def api_tokens(self, staff_user_id: str | None = None) -> list[Grant]:
        """Unexpired API tokens (a staff member's, or everyone's for ``None``)."""
        now = self._clock()
        return [g for g in await self._store.api_tokens(staff_user_id) if g.expires_at > now]

    async def revoke_api_token(self, token_id: str, *, owner: str | None, actor: str) -> bool:
        """Revoke at once. ``owner`` limits it to that staff member's tokens: another's
        token is refused exactly like one that does not exist."""
        revoked = await self._store.revoke(token_id, owner, actor, self._clock())
        log.info("web.api_token_revoked" if revoked else "web.api_token_revoke_refused")
        return revoked

    async def revoke_all_api_tokens(self, staff_user_id: str) -> int:
        """Revoke every API token of a staff member (their choice when signing out)."""
        revoked = 0
        for grant in await self._store.api_tokens(staff_user_id):
            if grant.token_id and await self.revoke_api_token(
                grant.token_id, owner=staff_user_id, actor=staff_user_id
            ):
                revoked += 1
        return revoked

    async def api_staff(self, token: str | None) -> str | None:
        if not token:
            return None
        key = digest(token)
        grant = self._valid(await self._store.get(key), SecretKind.API_TOKEN)
        if grant is None:
            return None
        await self._store.touch(key, self._clock())
        return grant.staff
