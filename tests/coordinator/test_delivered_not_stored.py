"""What is kept, for how long (docs/security.md, "What we keep"): opaque organization ids
with sealed names; sent messages without their content, deleted after their window;
handled event ids only while redelivery is possible; a closed case's trail; a referred
request's details after its window. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import sqlalchemy as sa

from coordinator.sealing import Opener
from coordinator.store.outbox import PENDING, SENT, enqueue
from coordinator.store.schema import (
    inbox,
    members,
    metadata,
    organizations,
    outbox,
    proposal_posts,
    proposals,
    request_threads,
    requests,
    retention_counts,
    sealed,
    vouches,
)
from coordinator.store.sealed import INTAKE_DETAILS, INTAKE_ROOM, ORG_SCOPE, open_values
from tests.coordinator.conftest import network

NAME = "Clínica Legal del Valle"


async def _rows(c, table, *where) -> list:
    async with c.engine.connect() as conn:
        return (await conn.execute(sa.select(table).where(*where))).all()


async def _send_everything(c) -> list[str]:
    """Deliver every pending row as a Matrix client would (the event id is made up)."""
    sent = []
    for message in await c.outbox.claim("test", limit=500):
        await c.outbox.mark_sent(message.id, f"$ev-{message.id}")
        sent.append(message.id)
    return sent


async def test_an_organization_gets_an_opaque_id_and_its_name_is_sealed(coord):
    c = coord
    added = await c.add_organization(
        None, "alpha", "US-CA", name=NAME, contact="+1 202 555 0100", note="works nights"
    )
    org = added.member
    assert re.fullmatch(r"o-[0-9a-f]{12}", org)
    await c.vouch("alpha", org)
    assert await _rows(c, vouches, vouches.c.target == org)  # edges use the id
    opened = await open_values(c.engine, Opener([c.test_keys]), org, ORG_SCOPE)
    assert opened == {"name": NAME, "contact": "+1 202 555 0100", "note": "works nights"}
    async with c.engine.connect() as conn:
        text = ""
        for table in metadata.sorted_tables:
            if table is sealed:
                continue
            for row in (await conn.execute(sa.select(table))).all():
                text += repr(tuple(row))
    assert org in text  # the search sees the id in the tables that name it
    assert NAME not in text and "Valle" not in text and "works nights" not in text
    second = await c.add_organization(None, "alpha", name=NAME)
    assert second.member != org  # ids are random, never derived from the name


async def test_a_sent_message_keeps_only_what_exactly_once_needs(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["training"])
    await c.route(filed.request)
    pending = await _rows(c, outbox, outbox.c.state == PENDING)
    assert pending and all(r.content for r in pending)
    sent = await _send_everything(c)
    rows = await _rows(c, outbox, outbox.c.id.in_(sent))
    assert rows and all(r.state == SENT and r.content is None for r in rows)
    assert all(r.event_id == f"$ev-{r.id}" and r.room for r in rows)
    # The event id is still there for a later row that threads under or edits it.
    assert await c.outbox.event_id_of(rows[0].id) == f"$ev-{rows[0].id}"


async def test_sent_rows_and_handled_events_are_deleted_after_their_window(coord, clock):
    c = coord
    await network(c)
    await c.file_request("alpha", "o1", ["training"], event_id="$command-1")
    sent = await _send_everything(c)
    second = await c.file_request("alpha", "o1", ["forensics"])
    await c.route(second.request)  # its proposal is queued, never sent
    waiting = [r.id for r in await _rows(c, outbox, outbox.c.state == PENDING)]
    assert sent and waiting and await _rows(c, inbox, inbox.c.event_id == "$command-1")

    clock.advance(days=6)
    swept = await c.sweep_retention()
    assert (swept.outbox, swept.inbox) == (0, 0)
    clock.advance(days=2)  # past the 7 days of both windows
    swept = await c.sweep_retention()
    assert swept.outbox == len(sent) and swept.inbox >= 1
    assert await _rows(c, outbox, outbox.c.id.in_(sent)) == []
    assert await _rows(c, inbox, inbox.c.event_id == "$command-1") == []
    # Undelivered rows are never swept: that would lose a message.
    assert {r.id for r in await _rows(c, outbox, outbox.c.id.in_(waiting))} == set(waiting)


async def test_close_deletes_the_cases_trail(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["training"], note="phones seized")
    routed = await c.route(filed.request)
    async with c.engine.begin() as conn:
        await conn.execute(
            proposal_posts.insert().values(
                message="m1",
                proposal=routed.proposal,
                request=filed.request,
                room="!alpha:hs",
                room_id="!alpha:hs",
                event_id="$p1",
            )
        )
        await conn.execute(
            request_threads.insert().values(request=filed.request, room="!alpha:hs", root="$r")
        )
    engagement = (await c.approve(routed.proposal, "alpha")).engagement
    await c.close(engagement)

    assert await _rows(c, proposal_posts, proposal_posts.c.request == filed.request) == []
    assert await _rows(c, request_threads, request_threads.c.request == filed.request) == []
    assert await _rows(c, sealed, sealed.c.owner == "o1") == []
    (req,) = await _rows(c, requests, requests.c.id == filed.request)
    assert (req.organization, req.skills, req.languages, req.region, req.room) == (
        None,
        [],
        [],
        None,
        None,
    )
    assert req.state == "closed" and req.closed_at is not None
    (prop,) = await _rows(c, proposals, proposals.c.request == filed.request)
    assert (prop.path, prop.approvals, prop.reasons) == ([], [], None)
    # The organization's node stays in the trust graph, by its id, with no name anywhere.
    assert await _rows(c, organizations, organizations.c.id == "o1")
    async with c.engine.connect() as conn:
        counts = dict((await conn.execute(sa.select(retention_counts))).all())
    assert counts["requests_closed"] == 1 and counts["skill:training"] == 1


async def test_a_referred_request_keeps_only_code_and_date_after_its_window(coord, clock):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["training"], note="call after dark")
    await c.refer(filed.request, "globe")
    assert await _rows(c, sealed, sealed.c.scope == filed.request)  # kept for the handover
    clock.advance(days=29)
    assert (await c.sweep_retention()).referred == ()
    clock.advance(days=2)
    assert (await c.sweep_retention()).referred == (filed.request,)
    (req,) = await _rows(c, requests, requests.c.id == filed.request)
    assert (req.state, req.reason_code) == ("referred", "referred")
    assert req.acknowledged_at is not None  # the date
    assert (req.organization, req.partner, req.referred_to, req.skills) == (None, None, None, [])
    assert await _rows(c, sealed, sealed.c.owner == "o1") == []
    assert await _rows(c, members, members.c.id == "o1")  # the node, nameless


async def test_an_open_engagements_messages_stay_until_it_closes(coord, clock):
    """Their event ids are what the close redacts in the room: never swept while open."""
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["training"])
    routed = await c.route(filed.request)
    engagement = (await c.approve(routed.proposal, "alpha")).engagement
    await _send_everything(c)
    room = f"engagement:{engagement}"
    kept = [r.id for r in await _rows(c, outbox, outbox.c.room == room)]
    assert kept
    clock.advance(days=8)
    swept = await c.sweep_retention()
    assert swept.outbox > 0  # the partner room's rows went
    assert [r.id for r in await _rows(c, outbox, outbox.c.room == room)] == kept
    await c.close(engagement)
    await _send_everything(c)
    clock.advance(days=8)
    await c.sweep_retention()
    assert await _rows(c, outbox, outbox.c.room == room) == []


async def test_intake_details_rows_stay_past_the_submissions_window(coord, clock):
    c = coord
    async with c.engine.begin() as conn:
        row = await enqueue(
            conn,
            room=INTAKE_ROOM + "!alpha:hs",
            kind=INTAKE_DETAILS,
            content={"reference": "c-1", "form": "request"},
            now=clock(),
        )
    await c.outbox.mark_sent(row, "$details")
    clock.advance(days=8)  # past the outbox window, within the submission's 30 days
    await c.sweep_retention()
    assert await _rows(c, outbox, outbox.c.id == row)
    clock.advance(days=24)  # past 30 days and one more
    await c.sweep_retention()
    assert await _rows(c, outbox, outbox.c.id == row) == []
