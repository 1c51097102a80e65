"""Engine, migrations, outbox and inbox on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from coordinator.store import Inbox, Outbox, create_engine, current_revision, head_revision, migrate
from coordinator.store import inbox as inbox_mod
from coordinator.store.outbox import enqueue
from coordinator.store.schema import metadata


async def test_migrate_is_idempotent_and_matches_tables(db_url):
    assert await current_revision(db_url) is None
    assert await migrate(db_url) == head_revision()
    assert await migrate(db_url) == head_revision()
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert diff == []
    assert set(metadata.tables) <= tables


async def test_sqlite_pragmas(sqlite_url):
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            secure = (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar()
    finally:
        await engine.dispose()
    assert (mode, fks, secure) == ("wal", 1, 1)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _put(engine, room: str, n: int, now: datetime) -> list[str]:
    ids = []
    async with engine.begin() as conn:
        for i in range(n):
            ids.append(
                await enqueue(conn, room=room, kind="message", content={"body": str(i)}, now=now)
            )
    return ids


async def test_outbox_claim_order_lease_and_retry(engine):
    clock = Clock()
    box = Outbox(engine, clock)
    a = await _put(engine, "!a:hs", 3, clock.now)
    b = await _put(engine, "!b:hs", 2, clock.now)

    first = await box.claim("w1", limit=2)
    assert [m.id for m in first] == a[:2]
    assert all(m.attempts == 1 for m in first)
    # Another worker cannot pass w1's leased rows of room a; room b is free.
    second = await box.claim("w2", limit=10)
    assert [m.id for m in second] == b
    assert await box.claim("w3") == []

    await box.mark_sent(a[0], "$e0")
    await box.mark_failed(a[1], "rate_limited", retry_after=30)
    assert await box.event_id_of(a[0]) == "$e0"
    assert await box.event_id_of("outbox:" + a[0]) == "$e0"
    assert await box.event_id_of(a[1]) is None
    # a[1] waits for its retry, so a[2] must wait too (order within the room).
    assert await box.claim("w3") == []
    clock.now += timedelta(seconds=31)
    again = await box.claim("w3")
    assert [m.id for m in again] == [a[1], a[2]]
    assert again[0].attempts == 2
    # w2's lease on b expires, and b is handed out again.
    clock.now += timedelta(seconds=61)
    assert {m.id for m in await box.claim("w4")} >= set(b)


async def test_inbox_records_in_transaction(engine):
    box = Inbox(engine)
    assert not await box.already_handled("$ev1")
    try:
        async with engine.begin() as conn:
            await inbox_mod.claim(conn, "$ev1", "test", datetime.now(UTC))
            raise RuntimeError("effect failed")
    except RuntimeError:
        pass
    assert not await box.already_handled("$ev1")
    async with engine.begin() as conn:
        await inbox_mod.claim(conn, "$ev1", "test", datetime.now(UTC))
        await inbox_mod.store_result(conn, "$ev1", {"ok": 1})
    assert await box.already_handled("$ev1")
    async with engine.connect() as conn:
        assert await inbox_mod.lookup(conn, "$ev1") == (True, {"ok": 1})
