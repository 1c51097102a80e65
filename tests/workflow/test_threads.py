"""Request threads in every partner room, decided on the outbox rows a use case just wrote
(``partner_bots.workflow.posted``); on both databases, without a homeserver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.store import create_engine, migrate
from coordinator.store.outbox import enqueue, ref
from coordinator.store.schema import outbox
from partner_bots.workflow import posted

ALPHA, BETA, STAFF = "!alpha:hs", "!beta:hs", "!staff:hs"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(db_url)
    eng = create_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


async def put(conn: AsyncConnection, room: str, *, proposal=None, request=None, thread=None):
    content = {"msgtype": "m.notice", "body": "x"}
    if proposal:
        content["org.dsx.proposal"] = {"id": proposal, "request": request}
    return await enqueue(
        conn, room=room, kind="message", content=content, now=NOW, thread_of=thread
    )


async def thread_of(conn: AsyncConnection, row: str) -> str | None:
    return (
        await conn.execute(sa.select(outbox.c.thread_of).where(outbox.c.id == row))
    ).scalar_one()


async def test_the_other_partners_copy_starts_the_thread_and_later_posts_join_it(engine):
    async with engine.begin() as conn:
        # Filing: alpha's copy is already in alpha's thread; beta's copy is new there.
        before = await posted.last_seq(conn)
        await put(conn, ALPHA, proposal="p-1", request="r-1", thread="$cmd")
        copy = await put(conn, BETA, proposal="p-1", request="r-1")
        await posted.adopt_elsewhere(conn, before, "r-1", frozenset({ALPHA, STAFF}))
        assert await thread_of(conn, copy) is None  # the root of r-1's thread in beta's room

        # Beta declines in its room: the next candidate shows up in both rooms, and the
        # staff notice stays out of any thread.
        before = await posted.last_seq(conn)
        beta_next = await put(conn, BETA, proposal="p-2", request="r-1")
        alpha_next = await put(conn, ALPHA, proposal="p-2", request="r-1")
        staff = await put(conn, STAFF)
        root = await posted.request_thread(conn, BETA, "r-1")
        assert root == ref(copy)
        await posted.adopt_into_thread(conn, before, BETA, root)
        await posted.adopt_elsewhere(conn, before, "r-1", frozenset({BETA, STAFF}))
        assert await thread_of(conn, beta_next) == ref(copy)
        assert await thread_of(conn, alpha_next) == "$cmd"
        assert await thread_of(conn, staff) is None


async def test_a_delivered_root_is_named_by_its_event_id(engine):
    async with engine.begin() as conn:
        copy = await put(conn, BETA, proposal="p-1", request="r-7")
        await conn.execute(outbox.update().where(outbox.c.id == copy).values(event_id="$copy"))
        assert await posted.request_thread(conn, BETA, "r-7") == "$copy"
        assert await posted.request_thread(conn, BETA, "r-8") is None


async def test_proposals_for_several_requests_each_join_their_own_thread(engine):
    async with engine.begin() as conn:
        await put(conn, ALPHA, proposal="p-1", request="r-1", thread="$one")
        await put(conn, ALPHA, proposal="p-2", request="r-2", thread="$two")
        before = await posted.last_seq(conn)
        # A removal re-routes both requests in one transaction.
        first = await put(conn, ALPHA, proposal="p-3", request="r-1")
        second = await put(conn, ALPHA, proposal="p-4", request="r-2")
        fresh = await put(conn, ALPHA, proposal="p-5", request="r-3")
        await posted.thread_new_proposals(conn, before, frozenset({STAFF}))
        assert await thread_of(conn, first) == "$one"
        assert await thread_of(conn, second) == "$two"
        assert await thread_of(conn, fresh) is None  # no thread for r-3 yet
