"""Request threads and proposal copies, kept by key (``partner_bots.workflow.posted``):
the core writes a copy's row as it queues it, delivery completes it and roots the
request's thread where it had none; on both databases, without a homeserver. Placing a
notification in its thread at delivery is tested on real Synapse (test_partner_rooms.py,
test_old_proposal.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from coordinator.store import create_engine, migrate
from coordinator.store.outbox import enqueue, new_message_id, ref
from coordinator.store.schema import outbox, proposal_posts
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
    """An old-style row (rendered content with a proposal block), as before the upgrade."""
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


async def copy(conn: AsyncConnection, room: str, proposal: str, request: str) -> str:
    """A copy as the core queues it (``proposal_notices.post``): its row, keyed by id."""
    row = await enqueue(conn, room=room, kind="notification", content={}, now=NOW)
    await conn.execute(
        proposal_posts.insert().values(message=row, proposal=proposal, request=request, room=room)
    )
    return row


async def test_the_other_partners_copy_starts_the_thread_and_later_ones_keep_it(engine):
    async with engine.begin() as conn:
        await posted.set_request_thread(conn, "r-1", ALPHA, "$cmd")
        mine = await copy(conn, ALPHA, "p-1", "r-1")
        theirs = await copy(conn, "partner:beta", "p-1", "r-1")
        assert await posted.request_thread(conn, "partner:beta", "r-1") is None
        waiting = await posted.proposal_posts_of(conn, "p-1")
        assert {(p.row, p.event_id) for p in waiting} == {(mine, None), (theirs, None)}

        await posted.record_delivery(conn, mine, ALPHA, "$mine", "$cmd")
        await posted.record_delivery(conn, theirs, BETA, "$theirs", None)
        assert await posted.request_thread(conn, ALPHA, "r-1") == "$cmd"
        assert await posted.request_thread(conn, "partner:beta", "r-1") == "$theirs"

        # The next candidate, delivered in that thread, does not move it.
        nxt = await copy(conn, "partner:beta", "p-2", "r-1")
        await posted.record_delivery(conn, nxt, BETA, "$next", "$theirs")
        assert await posted.request_thread(conn, "partner:beta", "r-1") == "$theirs"
        found = await posted.proposal_at(conn, BETA, "$next")
        assert found is not None and (found.proposal, found.thread_of) == ("p-2", "$theirs")
        assert await posted.request_thread(conn, BETA, "r-8") is None


async def test_a_copy_is_found_in_the_room_it_reached_and_nowhere_else(engine):
    """``partner:<handle>`` resolves at delivery; the reaction comes from the real room."""
    async with engine.begin() as conn:
        row = await copy(conn, "partner:beta", "p-9", "r-9")
        await posted.record_delivery(conn, row, BETA, "$nine", None)
        found = await posted.proposal_at(conn, BETA, "$nine")
        assert found is not None and (found.proposal, found.row) == ("p-9", row)
        assert await posted.proposal_at(conn, ALPHA, "$nine") is None  # another room
        [post] = await posted.proposal_posts_of(conn, "p-9")
        assert (post.room, post.room_id, post.event_id) == ("partner:beta", BETA, "$nine")


async def test_a_row_that_is_no_copy_is_not_recorded(engine):
    async with engine.begin() as conn:
        row = await put(conn, ALPHA)
        assert await posted.record_delivery(conn, row, ALPHA, "$n", None) is None
        assert await posted.proposal_at(conn, ALPHA, "$n") is None
        assert await posted.request_thread(conn, ALPHA, "r-1") is None


async def test_proposals_delivered_before_the_upgrade_are_found_by_key(db_url: str):
    """The 0005 revision fills the posts, the threads and the request's room from the
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


async def test_copies_waiting_at_the_upgrade_get_their_post_row(db_url: str):
    """The 0009 revision: a rendered copy still in the outbox gets its post row, so its
    delivery completes it and a ✅ on it finds the proposal."""
    await migrate(db_url, "0008_desk_lists")
    eng = create_engine(db_url)
    try:
        async with eng.begin() as conn:
            waiting = await put(conn, BETA, proposal="p-1", request="r-1")
            await put(conn, ALPHA)  # no proposal: no post
        await migrate(db_url)
        async with eng.begin() as conn:
            [post] = await posted.proposal_posts_of(conn, "p-1")
            assert (post.row, post.room, post.event_id) == (waiting, BETA, None)
            await posted.record_delivery(conn, waiting, BETA, "$late", None)
            found = await posted.proposal_at(conn, BETA, "$late")
            assert found is not None and found.proposal == "p-1"
            count = await conn.execute(sa.select(sa.func.count()).select_from(proposal_posts))
            assert count.scalar_one() == 1
    finally:
        await eng.dispose()
