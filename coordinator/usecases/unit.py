"""One use case = one transaction: state change, audit entries, outbox rows and the
idempotency key commit together, or nothing does.

With an ``event_id`` (the Matrix event that caused the call) the key is inserted
first, so a concurrent duplicate blocks on it and then fails; a later duplicate finds
the stored result and returns it without running anything.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator import audit, metrics, notifications
from coordinator.logs import get_logger
from coordinator.store import inbox as inbox_store
from coordinator.store import outbox as outbox_store

log = get_logger(__name__)
R = TypeVar("R")


@dataclass
class Tx:
    """What a use case may touch while its transaction is open."""

    conn: AsyncConnection
    now: datetime
    actor: str
    records: list[audit.AuditRecord] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    trust_changed: bool = False

    def audit(self, action: str, subject: str, **data: Any) -> None:
        self.records.append(audit.AuditRecord(self.actor, action, subject, data))

    async def send(
        self,
        room: str,
        content: Mapping[str, Any],
        *,
        kind: str = "message",
        thread_of: str | None = None,
        reply_to: str | None = None,
        edits: str | None = None,
    ) -> str:
        """Queue an adapter's own Matrix content (a command's reply); the core's use cases
        queue notifications instead (``notify``)."""
        return await outbox_store.enqueue(
            self.conn,
            room=room,
            kind=kind,
            content=content,
            now=self.now,
            thread_of=thread_of,
            reply_to=reply_to,
            edits=edits,
        )

    async def notify(
        self,
        room: notifications.RoomRef,
        notification: notifications.Notification,
        *,
        edits: str | None = None,
        thread_of: str | None = None,
    ) -> str:
        """Queue what happened for ``room``; the Matrix side renders it at delivery."""
        return await outbox_store.enqueue(
            self.conn,
            room=room.address,
            kind=notifications.ROW_KIND,
            content=notifications.encode(notification, room),
            now=self.now,
            edits=edits,
            thread_of=thread_of,
        )


def encode_result(result: Any) -> Any:
    if result is None:
        return None
    if dataclasses.is_dataclass(result):
        return {f.name: _plain(getattr(result, f.name)) for f in dataclasses.fields(result)}
    raise TypeError(f"use case results must be dataclasses, got {type(result).__name__}")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list | frozenset | set):
        items = [_plain(v) for v in value]
        return sorted(items) if isinstance(value, frozenset | set) else items
    return value


def decode_result(cls: type[R], data: Any) -> R:
    if data is None:
        return None  # type: ignore[return-value]
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = data.get(f.name)
        origin = typing.get_origin(hints[f.name])
        if origin is tuple and value is not None:
            value = tuple(value)
        elif origin is frozenset and value is not None:
            value = frozenset(value)
        kwargs[f.name] = value
    return cls(**kwargs)


async def run(
    engine: AsyncEngine,
    *,
    name: str,
    actor: str,
    now: datetime,
    event_id: str | None,
    result_type: type[R],
    body: Callable[[Tx], Awaitable[R]],
    audit_key: audit.AuditKey,
    on_rollback: Callable[[], Awaitable[None]] | None = None,
) -> R:
    """Run ``body`` in one transaction with audit, outbox and idempotency; its duration,
    commit included, feeds the use-case latency histogram (``coordinator.metrics``)."""
    with metrics.USE_CASE_SECONDS.labels(use_case=name).time():
        try:
            async with engine.begin() as conn:
                if event_id is not None:
                    handled, stored = await inbox_store.lookup(conn, event_id)
                    if handled:
                        log.info("usecase.duplicate", use_case=name)
                        return decode_result(result_type, stored)
                    await inbox_store.claim(conn, event_id, name, now)
                tx = Tx(conn=conn, now=now, actor=actor)
                result = await body(tx)
                await audit.append(conn, tx.records, now, audit_key)
                if event_id is not None:
                    await inbox_store.store_result(conn, event_id, encode_result(result))
        except IntegrityError:
            if on_rollback is not None:
                await on_rollback()
            if event_id is None:
                raise
            # A concurrent process handled the same event first: return its result.
            async with engine.connect() as conn:
                handled, stored = await inbox_store.lookup(conn, event_id)
            if not handled:
                raise
            return decode_result(result_type, stored)
        except BaseException:
            if on_rollback is not None:
                await on_rollback()
            raise
        for hook in tx.after_commit:
            hook()
        log.info("usecase.done", use_case=name, audit=len(tx.records))
        return result
