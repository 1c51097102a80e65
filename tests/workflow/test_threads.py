"""Request threads in every partner room, decided on the outbox rows a use case just wrote
and on the rows kept by key (``partner_bots.workflow.posted``); on both databases, without
a homeserver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.store import create_engine, migrate
from coordinator.store.outbox import new_message_id, ref
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
    # A plain insert, as every version wrote the row: some tests write at an old revision,
    # before ``enqueue`` looked rooms up in ``room_upgrades``.
    message_id = new_message_id()
    await conn.execute(
        outbox.insert().values(
            id=message_id,
            room=room,
            kind="message",
            content=content,
            thread_of=thread,
            created_at=NOW,
            state="pending",
            attempts=0,
            available_at=NOW,
        )
    )
    return message_id


async def thread_of(conn: AsyncConnection, row: str) -> str | None:
    return (
        await conn.execute(sa.select(outbox.c.thread_of).where(outbox.c.id == row))
    ).scalar_one()


async def test_the_other_partners_copy_starts_the_thread_and_later_posts_join_it(engine):
    async with engine.begin() as conn:
        # Filing: alpha's copy is already in alpha's thread; beta's copy is new there.
        before = await posted.last_seq(conn)
        await posted.set_request_thread(conn, "r-1", ALPHA, "$cmd")
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
        before = await posted.last_seq(conn)
        copy = await put(conn, BETA, proposal="p-1", request="r-7")
        await posted.adopt_elsewhere(conn, before, "r-7", frozenset({ALPHA}))
        assert await posted.request_thread(conn, BETA, "r-7") == ref(copy)
        content = {"body": "x", "org.dsx.proposal": {"id": "p-1", "request": "r-7"}}
        assert await posted.record_delivery(conn, copy, BETA, BETA, "$copy", content)
        assert await posted.request_thread(conn, BETA, "r-7") == "$copy"
        assert await posted.request_thread(conn, BETA, "r-8") is None
        found = await posted.proposal_at(conn, BETA, "$copy")
        assert found is not None and (found.proposal, found.row) == ("p-1", copy)
        assert await posted.proposal_at(conn, ALPHA, "$copy") is None  # another room


async def test_a_copy_sent_to_a_partners_default_room_is_found_in_the_room_it_reached(engine):
    """``partner:<handle>`` resolves at delivery; the reaction comes from the real room."""
    async with engine.begin() as conn:
        copy = await put(conn, "partner:beta", proposal="p-9", request="r-9")
        pending = await posted.proposal_posts_of(conn, "p-9")
        assert [(p.row, p.room, p.event_id) for p in pending] == [(copy, "partner:beta", None)]
        content = {"body": "x", "org.dsx.proposal": {"id": "p-9", "request": "r-9"}}
        await posted.record_delivery(conn, copy, "partner:beta", BETA, "$nine", content)
        await conn.execute(
            outbox.update().where(outbox.c.id == copy).values(state="sent", event_id="$nine")
        )
        found = await posted.proposal_at(conn, BETA, "$nine")
        assert found is not None and found.proposal == "p-9"
        # Edits go to the room the copy reached; the thread is kept under its address.
        assert [(p.room, p.event_id) for p in await posted.proposal_posts_of(conn, "p-9")] == [
            (BETA, "$nine")
        ]
        assert await posted.request_thread(conn, "partner:beta", "r-9") == "$nine"


async def test_an_edit_or_a_plain_notice_is_not_recorded_as_a_proposal(engine):
    async with engine.begin() as conn:
        row = await put(conn, ALPHA)
        assert not await posted.record_delivery(conn, row, ALPHA, ALPHA, "$n", {"body": "x"})
        edit = {"m.new_content": {"org.dsx.proposal": {"id": "p-1", "request": "r-1"}}}
        edit["org.dsx.proposal"] = {"id": "p-1", "request": "r-1"}
        assert not await posted.record_delivery(conn, row, ALPHA, ALPHA, "$e", edit)
        assert await posted.proposal_at(conn, ALPHA, "$e") is None


async def test_proposals_for_several_requests_each_join_their_own_thread(engine):
    async with engine.begin() as conn:
        await posted.set_request_thread(conn, "r-1", ALPHA, "$one")
        await posted.set_request_thread(conn, "r-2", ALPHA, "$two")
        before = await posted.last_seq(conn)
        # A removal re-routes both requests in one transaction.
        first = await put(conn, ALPHA, proposal="p-3", request="r-1")
        second = await put(conn, ALPHA, proposal="p-4", request="r-2")
        fresh = await put(conn, ALPHA, proposal="p-5", request="r-3")
        await posted.thread_new_proposals(conn, before, frozenset({STAFF}))
        assert await thread_of(conn, first) == "$one"
        assert await thread_of(conn, second) == "$two"
        assert await thread_of(conn, fresh) is None  # no thread for r-3 yet


async def test_proposals_delivered_before_the_upgrade_are_found_by_key(db_url: str):
    """The 0003 revision fills the posts, the threads and the request's room from the
    outbox rows already sent, so a ✅ on a proposal from before the upgrade still works."""
    from coordinator.store.schema import partners, proposal_posts, requests

    await migrate(db_url, "0002")
    eng = create_engine(db_url)
    try:
        async with eng.begin() as conn:
            await conn.execute(
                sa.text("INSERT INTO members VALUES ('alpha', 'partner', 'active', :t)"), {"t": NOW}
            )
            await conn.execute(
                sa.insert(partners).values(
                    handle="alpha", rooms=[ALPHA], members=[], is_global=False
                )
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO requests (id, partner, skills, languages, urgency, state, "
                    "filed_at) VALUES ('r-1', 'alpha', '[]', '[]', 1, 'proposed', :t)"
                ),
                {"t": NOW},
            )
            copy = await put(conn, BETA, proposal="p-1", request="r-1")
            mine = await put(conn, ALPHA, proposal="p-1", request="r-1", thread="$cmd")
            later = await put(conn, BETA, proposal="p-2", request="r-1", thread=ref(copy))
            for row, event in ((copy, "$copy"), (mine, "$mine"), (later, "$later")):
                await conn.execute(
                    outbox.update().where(outbox.c.id == row).values(state="sent", event_id=event)
                )
        await migrate(db_url)
        async with eng.begin() as conn:
            found = await posted.proposal_at(conn, BETA, "$later")
            assert found is not None and (found.proposal, found.thread_of) == ("p-2", "$copy")
            assert (await posted.proposal_at(conn, ALPHA, "$mine")).thread_of == "$cmd"
            assert await posted.request_thread(conn, BETA, "r-1") == "$copy"
            assert await posted.request_thread(conn, ALPHA, "r-1") == "$cmd"
            room = (await conn.execute(sa.select(requests.c.room))).scalar_one()
            assert room == ALPHA  # alpha's own room showed the request's proposal
            count = await conn.execute(sa.select(sa.func.count()).select_from(proposal_posts))
            assert count.scalar_one() == 3
    finally:
        await eng.dispose()
