"""Append-only, hash-chained audit log, keyed so the database's owner cannot rewrite it.

Each entry's hash is an HMAC-SHA256, under the audit key (coordinator/audit_key.py, a
file outside the database), of the canonical JSON of its fields and the previous
entry's hash: changing, deleting or reordering any entry breaks every link after it,
and without the key nobody can recompute the links. Entries written before the key
existed carry a plain SHA-256 (``entry_hash``) and verify as before, up to the count
and head the key file pins. A truncated tail still looks like a shorter chain; an
anchor (count and head hash, posted to the staff room) catches that.
Entries name ids and codes only: never names, contacts or message text.
``verify`` walks the chain and reports the first broken link.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import canonicaljson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.audit_key import GENESIS, AuditKey
from coordinator.store.locks import AUDIT_LOCK, advisory_xact_lock
from coordinator.store.schema import audit_log

__all__ = ["GENESIS", "Anchor", "AuditEntry", "AuditKey", "AuditRecord", "BrokenLink"]
MAX_VALUE = 200
_Scalar = str | int | bool | None


@dataclass(frozen=True)
class AuditRecord:
    """An entry waiting to be appended in the current transaction."""

    actor: str
    action: str
    subject: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    data: Mapping[str, Any]
    prev_hash: str
    hash: str


_REASONS = {
    "gap": "is missing (deleted, or the entries after it renumbered)",
    "prev_mismatch": "does not link to the entry before it",
    "hash_mismatch": "does not match its hash (changed, or written without the audit key)",
    "pin_mismatch": "differs from the last entry from before the audit key, as its key file "
    "pins it",
    "anchor_mismatch": "differs from the anchor",
    "missing": "and every later one are missing: the chain ends before the anchor "
    "(or the count its key file pins)",
}


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    # "hash_mismatch" | "prev_mismatch" | "gap" | "pin_mismatch" | "anchor_mismatch" | "missing"
    reason: str

    def __str__(self) -> str:
        return f"audit entry {self.seq} {_REASONS.get(self.reason, self.reason)}"


_ANCHOR = re.compile(r"(?:([0-9a-f]{64}):(\d{1,12})|(\d{1,12}):([0-9a-f]{64}))")


@dataclass(frozen=True)
class Anchor:
    """A chain head seen outside the database: the entry count and the last entry's hash."""

    count: int
    hash: str

    def __str__(self) -> str:
        return f"{self.hash}:{self.count}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """``HASH:COUNT`` as the staff room shows it (``COUNT:HASH`` is accepted too)."""
        found = _ANCHOR.fullmatch(text.strip().lower())
        if found is None:
            raise ValueError("an anchor is HASH:COUNT (64 hex digits, a colon, a number)")
        digest, count = (found[1], found[2]) if found[1] else (found[4], found[3])
        return cls(int(count), digest)


def _check_value(key: str, value: Any) -> None:
    """Only ids, codes and numbers: a long string is a sign of leaked free text."""
    if isinstance(value, list | tuple):
        for v in value:
            _check_value(key, v)
        return
    if isinstance(value, float):
        raise TypeError(f"audit field {key!r}: floats are not canonical; use an int or a str")
    if not isinstance(value, _Scalar):
        raise TypeError(f"audit field {key!r}: unsupported type {type(value).__name__}")
    if isinstance(value, str) and len(value) > MAX_VALUE:
        raise ValueError(f"audit field {key!r}: too long for an id or a code")


def _body(
    seq: int, at: str, actor: str, action: str, subject: str, data: Mapping, prev: str
) -> bytes:
    return canonicaljson.encode_canonical_json(
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "data": dict(data),
            "prev": prev,
        }
    )


def entry_hash(
    seq: int, at: str, actor: str, action: str, subject: str, data: Mapping, prev: str
) -> str:
    """The unkeyed hash of entries written before the audit key existed."""
    return hashlib.sha256(_body(seq, at, actor, action, subject, data, prev)).hexdigest()


def keyed_hash(
    key: AuditKey,
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    data: Mapping,
    prev: str,
) -> str:
    """HMAC-SHA256 under the audit key: what every entry since the key carries."""
    body = _body(seq, at, actor, action, subject, data, prev)
    return hmac.new(key.secret, body, hashlib.sha256).hexdigest()


def _matches(key: AuditKey, e: AuditEntry) -> bool:
    """Whether the entry carries its hash: plain SHA-256 up to the key's pin, HMAC after.
    A row this code could not have written (data not an object, say) never matches."""
    fields = (e.seq, e.at, e.actor, e.action, e.subject, e.data, e.prev_hash)
    try:
        legacy = e.seq <= key.legacy_entries
        expected = entry_hash(*fields) if legacy else keyed_hash(key, *fields)
        return hmac.compare_digest(expected.encode(), str(e.hash).encode())
    except (TypeError, ValueError):
        return False


async def append(
    conn: AsyncConnection, records: Sequence[AuditRecord], now: datetime, key: AuditKey
) -> list[AuditEntry]:
    """Append in the caller's transaction; the chain head is locked until it commits.
    There is no unkeyed way in: every entry written here carries the key's HMAC."""
    if not isinstance(key, AuditKey):
        raise TypeError("audit entries are written with the audit key (coordinator/audit_key.py)")
    if not records:
        return []
    for record in records:
        for name, value in record.data.items():
            _check_value(name, value)
    await advisory_xact_lock(conn, AUDIT_LOCK)
    head = (
        await conn.execute(
            sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        )
    ).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    at = now.isoformat()
    out: list[AuditEntry] = []
    for record in records:
        seq += 1
        digest = keyed_hash(
            key, seq, at, record.actor, record.action, record.subject, record.data, prev
        )
        out.append(
            AuditEntry(
                seq, at, record.actor, record.action, record.subject, record.data, prev, digest
            )
        )
        prev = digest
    await conn.execute(
        audit_log.insert(),
        [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "data": dict(e.data),
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in out
        ],
    )
    return out


async def entries(engine: AsyncEngine, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log)
            .where(audit_log.c.seq > after)
            .order_by(audit_log.c.seq)
            .limit(limit)
        )
        return [
            AuditEntry(r.seq, r.at, r.actor, r.action, r.subject, r.data, r.prev_hash, r.hash)
            for r in rows
        ]


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(audit_log))).scalar_one()


async def head(source: AsyncEngine | AsyncConnection) -> Anchor:
    """The newest entry as an anchor (``0`` and the genesis hash for an empty chain)."""
    query = sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    if isinstance(source, AsyncConnection):
        row = (await source.execute(query)).first()
    else:
        async with source.connect() as conn:
            row = (await conn.execute(query)).first()
    return Anchor(row.seq, row.hash) if row else Anchor(0, GENESIS)


async def verify(
    engine: AsyncEngine, key: AuditKey, anchor: Anchor | None = None, batch: int = 2000
) -> BrokenLink | None:
    """The first broken link of the chain, or None when it is intact. With ``anchor``, the
    chain must also still hold that entry, at that count, with that hash."""
    if anchor is not None and anchor.count == 0 and anchor.hash != GENESIS:
        return BrokenLink(0, "anchor_mismatch")
    expected_seq, prev = 1, GENESIS
    while True:
        chunk = await entries(engine, after=expected_seq - 1, limit=batch)
        if not chunk:
            break
        for e in chunk:
            if e.seq != expected_seq:
                return BrokenLink(expected_seq, "gap")
            if e.prev_hash != prev:
                return BrokenLink(e.seq, "prev_mismatch")
            if not _matches(key, e):
                return BrokenLink(e.seq, "hash_mismatch")
            if e.seq == key.legacy_entries and e.hash != key.legacy_head:
                return BrokenLink(e.seq, "pin_mismatch")
            if anchor is not None and e.seq == anchor.count and e.hash != anchor.hash:
                return BrokenLink(e.seq, "anchor_mismatch")
            expected_seq, prev = e.seq + 1, e.hash
    total = expected_seq - 1
    if total < max(key.legacy_entries, anchor.count if anchor else 0):
        return BrokenLink(total + 1, "missing")
    return None
