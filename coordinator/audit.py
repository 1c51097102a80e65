"""Append-only, hash-chained audit log.

Each entry's hash is sha256 over the canonical JSON of its fields and the previous
entry's hash, so changing, deleting or reordering any entry breaks every link after
it. Entries name ids and codes only: never names, contacts or message text.
``verify`` walks the chain and reports the first broken link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import canonicaljson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.store.locks import AUDIT_LOCK, advisory_xact_lock
from coordinator.store.schema import audit_log

GENESIS = "0" * 64
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


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    reason: str  # "hash_mismatch" | "prev_mismatch" | "gap"

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.reason.replace('_', ' ')}"


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


def entry_hash(
    seq: int, at: str, actor: str, action: str, subject: str, data: Mapping, prev: str
) -> str:
    body = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "data": dict(data),
        "prev": prev,
    }
    return hashlib.sha256(canonicaljson.encode_canonical_json(body)).hexdigest()


async def append(
    conn: AsyncConnection, records: Sequence[AuditRecord], now: datetime
) -> list[AuditEntry]:
    """Append in the caller's transaction; the chain head is locked until it commits."""
    if not records:
        return []
    for record in records:
        for key, value in record.data.items():
            _check_value(key, value)
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
        digest = entry_hash(seq, at, record.actor, record.action, record.subject, record.data, prev)
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


async def verify(engine: AsyncEngine, batch: int = 2000) -> BrokenLink | None:
    """The first broken link of the chain, or None when it is intact."""
    expected_seq, prev = 1, GENESIS
    while True:
        chunk = await entries(engine, after=expected_seq - 1, limit=batch)
        if not chunk:
            return None
        for e in chunk:
            if e.seq != expected_seq:
                return BrokenLink(expected_seq, "gap")
            if e.prev_hash != prev:
                return BrokenLink(e.seq, "prev_mismatch")
            digest = entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.data, e.prev_hash)
            if digest != e.hash:
                return BrokenLink(e.seq, "hash_mismatch")
            expected_seq, prev = e.seq + 1, e.hash
