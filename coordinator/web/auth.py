"""Staff sign-in without passwords: one-time links, sessions and API tokens.

The bot calls :meth:`StaffAuth.issue_login_link` when a staff member types
``!dsx login`` in the staff room. Only SHA-256 hashes of tokens are kept, in a
:class:`SecretStore`. The store is in memory (the schema has no table for it): a
restart signs everyone out and voids unused links, which is the safe failure, and
one ``dsx run`` process serves the dashboard. A shared store can replace it through
the Protocol.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from coordinator.logs import get_logger

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
    def put(self, digest: str, grant: Grant) -> None: ...
    def get(self, digest: str) -> Grant | None: ...
    def pop(self, digest: str) -> Grant | None: ...
    def purge(self, now: datetime) -> int: ...


class MemorySecretStore:
    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}

    def put(self, digest: str, grant: Grant) -> None:
        self._grants[digest] = grant

    def get(self, digest: str) -> Grant | None:
        return self._grants.get(digest)

    def pop(self, digest: str) -> Grant | None:
        return self._grants.pop(digest, None)

    def purge(self, now: datetime) -> int:
        expired = [d for d, g in self._grants.items() if g.expires_at <= now]
        for digest in expired:
            del self._grants[digest]
        return len(expired)


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

    def _grant(self, kind: SecretKind, staff: str, ttl: timedelta) -> str:
        now = self._clock()
        self._store.purge(now)
        token = secrets.token_urlsafe(32)
        self._store.put(digest(token), Grant(kind, staff, now + ttl))
        return token

    def _valid(self, grant: Grant | None, kind: SecretKind) -> Grant | None:
        if grant is None or grant.kind is not kind or grant.expires_at <= self._clock():
            return None
        if grant.staff not in self._staff:
            return None  # removed from staff since: the grant dies with the role
        return grant

    def issue_login_link(self, staff_user_id: str) -> str:
        """A short-lived, single-use sign-in URL for a staff member."""
        self._check_staff(staff_user_id)
        token = self._grant(SecretKind.LOGIN_LINK, staff_user_id, self._link_ttl)
        log.info("web.login_link_issued")
        return f"{self._origin}/login/{token}"

    def link_is_live(self, token: str) -> bool:
        return self._valid(self._store.get(digest(token)), SecretKind.LOGIN_LINK) is not None

    def redeem(self, token: str) -> str | None:
        """Consume a login link; returns a new session token, or None."""
        grant = self._valid(self._store.pop(digest(token)), SecretKind.LOGIN_LINK)
        if grant is None:
            return None
        return self._grant(SecretKind.SESSION, grant.staff, self._session_ttl)

    def session_staff(self, session_token: str | None) -> str | None:
        if not session_token:
            return None
        grant = self._valid(self._store.get(digest(session_token)), SecretKind.SESSION)
        return grant.staff if grant else None

    def end_session(self, session_token: str) -> None:
        self._store.pop(digest(session_token))

    def issue_api_token(self, staff_user_id: str) -> str:
        self._check_staff(staff_user_id)
        return self._grant(SecretKind.API_TOKEN, staff_user_id, self._api_ttl)

    def api_staff(self, token: str | None) -> str | None:
        if not token:
            return None
        grant = self._valid(self._store.get(digest(token)), SecretKind.API_TOKEN)
        return grant.staff if grant else None
