"""The Matrix side forgets (docs/security.md, "What the Matrix side keeps"), on real Synapse
homeservers with real E2EE: a close redacts the bot's messages in the engagement room,
removes the provider, leaves and forgets the room and drops its megolm sessions, exactly
once even when the work is cut off half-way; a removed provider is removed from their
engagement room; intake details are redacted after their window and the bot never keeps
a key to them; and Synapse erases what was redacted from its database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from coordinator.config import PolicyConfig
from coordinator.forms import REQUEST_FORM
from coordinator.sealing import load_public_key
from coordinator.store.schema import outbox
from coordinator.usecases.forgetting import REDACT_EVENT, ROOM_CLEANUP, cleanup_queue
from dsx.web import build_web
from partner_bots.homeserver.synapse import Homeserver
from partner_bots.workflow import forgetting
from partner_bots.workflow.rooms import HISTORY_DAYS
from tests.web.conftest import CSRF_RE
from tests.web.forms_data import CANARY, full_form
from tests.workflow.conftest import World
from tests.workflow.harness import (
    ENGAGEMENT,
    REPLY,
    Member,
    PartnerSpec,
    join_bot,
    make_config,
    start_coordinator,
    tag,
)
from tests.workflow.test_story import ask_ok, proposal_in, request_id, seed, wait_invite

pytestmark = pytest.mark.synapse

DETAILS = "org.dsx.intake_details"


@pytest.fixture(scope="module")
async def database_url() -> AsyncIterator[str]:
    """The Matrix side does not depend on the database: the embedded store only."""
    yield ""


@pytest.fixture(scope="module")
async def seeded(world: World) -> World:
    await seed(world)
    return world


# -- reading the homeservers and the bot's store ------------------------------------------


async def get(hs: Homeserver, token: str, path: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(hs.base_url + path, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)


def q(value: str) -> str:
    return quote(value, safe="")


async def event_as(member: Member, room: str, event_id: str) -> dict[str, Any]:
    """The event as the member's homeserver serves it (ciphertext, or its redacted form)."""
    status, body = await get(
        member.hs,
        member.client.access_token,
        f"/_matrix/client/v3/rooms/{q(room)}/event/{q(event_id)}",
    )
    assert status == 200, body
    return body


def redacted(event: dict[str, Any]) -> bool:
    return "redacted_because" in (event.get("unsigned") or {}) and not event.get("content")


async def membership(member: Member, room: str, user: str) -> dict[str, Any]:
    path = f"/_matrix/client/v3/rooms/{q(room)}/state/m.room.member/{q(user)}?format=event"
    status, body = await get(member.hs, member.client.access_token, path)
    assert status == 200, body
    return body


async def history(member: Member, room: str) -> list[dict[str, Any]]:
    """Every event of the room the member may see, oldest first (raw, as served)."""
    events: list[dict[str, Any]] = []
    token = ""
    while True:
        path = f"/_matrix/client/v3/rooms/{q(room)}/messages?dir=b&limit=100"
        if token:
            path += f"&from={q(token)}"
        status, body = await get(member.hs, member.client.access_token, path)
        assert status == 200, body
        events += body.get("chunk") or []
        token = body.get("end") or ""
        if not body.get("chunk") or not token:
            return list(reversed(events))


def crypto_store(store_dir: Path) -> Path:
    found = sorted(store_dir.glob("*.db"))
    assert len(found) == 1, found
    return found[0]


def inbound_sessions(store_dir: Path, room: str) -> set[str]:
    """The megolm session ids nio's store holds for a room, read from the file itself."""
    with sqlite3.connect(f"file:{crypto_store(store_dir)}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT session_id FROM megolminboundsessions WHERE room_id = ?", (room,)
        ).fetchall()
    return {r[0] for r in rows}


def forgotten_by(hs: Homeserver, user: str, room: str) -> bool:
    """Synapse's own record: every membership row of the user in the room is forgotten."""
    path = hs.directory / "homeserver.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        total, kept = db.execute(
            "SELECT count(*), sum(forgotten = 0) FROM room_memberships "
            "WHERE user_id = ? AND room_id = ?",
            (user, room),
        ).fetchone()
    return total > 0 and kept == 0


async def rows_of(w: World, kind: str, room: str) -> list[Any]:
    async with w.coordinator.running.coordinator.engine.connect() as conn:
        found = await conn.execute(
            sa.select(outbox).where(outbox.c.kind == kind, outbox.c.room == room)
        )
        return list(found.all())


async def until(check: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"waiting for {what}")
        await asyncio.sleep(every)


async def sent_row(w: World, kind: str, room: str, timeout: float = 90.0) -> Any:
    async def done() -> Any:
        rows = await rows_of(w, kind, room)
        return rows[0] if rows and rows[0].state == "sent" else None

    return await until(done, timeout, f"{kind} row for {room} to be done")


async def open_engagement(w: World, provider: Member) -> tuple[str, str]:
    """A vetted provider of alpha's, a request, approval: (engagement id, room id), with
    the provider and ann joined and the provider's introduction read."""
    bot, skill = w.bot, f"fg{tag()}"
    for body in (
        f"!dsx provider add {provider.user_id} skills={skill} langs=en regions=US-CA capacity=1",
        f"!dsx vouch {provider.user_id}",
        f"!dsx vet {provider.user_id}",
    ):
        await ask_ok(w.ann, w.room_a, bot, body)
    filed = await ask_ok(w.ann, w.room_a, bot, f"!dsx request legal-aid skills={skill}")
    proposal = await proposal_in(w.ann, w.room_a, bot, request_id(filed))
    approved = await ask_ok(
        w.ann, w.room_a, bot, f"!dsx approve {proposal['content']['org.dsx.proposal']['id']}"
    )
    engagement = approved["body"].split("engagement ")[1].split()[0]
    room = await wait_invite(provider)
    await provider.accept_invite(room)
    await provider.read_history(room)
    await provider.wait_event(
        room, bot, lambda s: ENGAGEMENT in s.get("content", {}), what="the introduction"
    )
    await w.ann.accept_invite(room)
    return engagement, room


# -- close ----------------------------------------------------------------------------------


async def test_close_redacts_removes_leaves_forgets_and_drops_keys_once(
    seeded: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    w, bot = seeded, seeded.bot
    provider = await Member.create(w.ann.hs, tmp_path, f"prov{tag()}")
    store = w.coordinator.config.store_path
    try:
        engagement, room = await open_engagement(w, provider)
        intro = [s for s in provider.from_user(room, bot) if ENGAGEMENT in s.get("content", {})]
        assert inbound_sessions(store, room), "the bot keeps its own sessions while it is there"

        # Only the core decides: another partner's member, a member of alpha's room who is
        # not listed, and the provider are refused, and nothing happens to the room.
        for member, where in ((w.bea, w.room_b), (w.mallory, w.room_a), (provider, room)):
            reply = await member.ask(where, bot, f"!dsx close {engagement}")
            assert not reply[REPLY]["ok"], reply["body"]
        assert await rows_of(w, ROOM_CLEANUP, cleanup_queue(engagement)) == []
        assert (await membership(w.ann, room, bot))["content"]["membership"] == "join"
        assert (await membership(w.ann, room, provider.user_id))["content"]["membership"] == "join"

        # A crash half-way (after the redactions, before the provider is removed): the row
        # is run again once its lease runs out, and finishes without doing anything twice.
        delivery = w.coordinator.running.delivery
        lease, delivery.lease_seconds = delivery.lease_seconds, 3
        real_remove = forgetting.RoomJanitor.remove
        cut: list[str] = []

        async def crash_once(self: Any, room_id: str, user_id: str) -> bool:
            if not cut:
                cut.append(user_id)
                raise RuntimeError("killed mid-close")
            return await real_remove(self, room_id, user_id)

        monkeypatch.setattr(forgetting.RoomJanitor, "remove", crash_once)
        try:
            closed = await ask_ok(w.ann, room, bot, f"!dsx close {engagement}")
            await sent_row(w, ROOM_CLEANUP, cleanup_queue(engagement), timeout=120)
        finally:
            delivery.lease_seconds = lease
        assert cut == [provider.user_id]

        events = await history(w.ann, room)
        mine = [e for e in events if e["sender"] == bot and "state_key" not in e]
        notes = [e for e in mine if e["type"] == "m.room.encrypted" and not redacted(e)]
        assert len(notes) == 1, "only the closing notice stays"
        note = await w.ann.wait_event(
            room, bot, lambda s: "is closed" in s["content"].get("body", ""), what="the note"
        )
        assert notes[0]["event_id"] == note["event_id"]
        assert "remove my messages" in note["content"]["body"]
        # The members were told first: the note precedes every redaction and the removal,
        # and the provider, removed after it, can still read it on their homeserver.
        order = [e["event_id"] for e in events]
        kicks = [
            e
            for e in events
            if e.get("state_key") == provider.user_id
            and e["sender"] == bot
            and e["content"].get("membership") == "leave"
        ]
        after = [e for e in events if e["type"] == "m.room.redaction"] + kicks
        assert all(order.index(note["event_id"]) < order.index(e["event_id"]) for e in after)
        assert note["event_id"] in [e["event_id"] for e in await history(provider, room)]
        # The introduction and the reply to the close are redacted on the homeserver.
        for event_id in (intro[0]["event_id"], await _reply_event(w, room, closed)):
            assert redacted(await event_as(w.ann, room, event_id)), event_id
        redactions = [e["redacts"] for e in mine if e["type"] == "m.room.redaction"]
        assert redactions and len(redactions) == len(set(redactions)), "one redaction each"
        assert len(redactions) == len([e for e in mine if e["type"] == "m.room.encrypted"]) - 1

        # The provider was removed by the bot, once; the bot left and forgot the room.
        gone = await membership(w.ann, room, provider.user_id)
        assert gone["content"]["membership"] == "leave" and gone["sender"] == bot
        assert len(kicks) == 1
        assert (await membership(w.ann, room, bot))["content"]["membership"] == "leave"
        assert forgotten_by(w.ann.hs, bot, room)
        # Its crypto store keeps no session of the room (the file, read directly).
        assert inbound_sessions(store, room) == set()
    finally:
        await provider.close()


async def _reply_event(w: World, room: str, reply: dict[str, Any]) -> str:
    found = [
        s["event_id"]
        for s in w.ann.from_user(room, w.bot)
        if s.get("content", {}).get(REPLY) == reply[REPLY]
    ]
    assert found, "the reply to the close"
    return found[0]


# -- removal -----------------------------------------------------------------------------


async def test_a_removed_provider_is_removed_from_their_engagement_room(
    seeded: World, tmp_path: Path
):
    w, bot = seeded, seeded.bot
    provider = await Member.create(w.ann.hs, tmp_path, f"prov{tag()}")
    try:
        engagement, room = await open_engagement(w, provider)
        # The room was created with a retention policy and history from the invitation on.
        state = f"/_matrix/client/v3/rooms/{q(room)}/state"
        token = w.ann.client.access_token
        status, retention = await get(w.ann.hs, token, f"{state}/m.room.retention/")
        assert status == 200 and retention == {"max_lifetime": HISTORY_DAYS * 86_400_000}
        status, visible = await get(w.ann.hs, token, f"{state}/m.room.history_visibility/")
        assert status == 200 and visible == {"history_visibility": "invited"}
        await ask_ok(w.staff, w.room_s, bot, f'!dsx remove {provider.user_id} reason="conduct"')
        await sent_row(w, ROOM_CLEANUP, cleanup_queue(engagement))
        gone = await membership(w.ann, room, provider.user_id)
        assert gone["content"]["membership"] == "leave" and gone["sender"] == bot
        # The partner keeps the room (the request goes back to routing): the bot stays.
        assert (await membership(w.ann, room, bot))["content"]["membership"] == "join"
        assert inbound_sessions(w.coordinator.config.store_path, room)
    finally:
        await provider.close()


# -- intake details ------------------------------------------------------------------------


async def test_intake_details_are_redacted_after_their_window_and_never_readable_by_the_bot(
    homeserver: Homeserver, tmp_path: Path
):
    ann = await Member.create(homeserver, tmp_path / "clients", "ann")
    coordinator = None
    try:
        room = await ann.create_encrypted_room(invite=[])
        password = secrets.token_urlsafe(12)
        bot = await homeserver.register(f"dsxforget-{secrets.token_hex(3)}", password)
        config = make_config(
            homeserver,
            bot.user_id,
            password,
            tmp_path / "data",
            [PartnerSpec("alpha", room, (ann.user_id,))],
            private_key=True,
        )
        # A window of zero days: due at the first purge after delivery.
        config = dataclasses.replace(config, policy=PolicyConfig(intake_retention_days=0))
        coordinator = await start_coordinator(config)
        await join_bot(ann, room, bot.user_id)
        sealer = load_public_key(config.sealing.public_key_file)
        stack = build_web(coordinator.running.coordinator, config, sealer)
        async with TestClient(TestServer(stack.app)) as http:
            page = await (await http.get("/request")).text()
            csrf = CSRF_RE.search(page)
            assert csrf is not None
            pairs = full_form(REQUEST_FORM, need=f"{CANARY} forget me")
            resp = await http.post("/request", data=[("csrf_token", csrf.group(1)), *pairs])
            assert resp.status == 200, await resp.text()
        coordinator.running.delivery.wake()
        details = await ann.wait_event(
            room, bot.user_id, lambda e: DETAILS in e.get("content", {}), what="the details"
        )
        assert CANARY in details["content"]["body"]
        on_server = await event_as(ann, room, details["event_id"])
        session = on_server["content"]["session_id"]
        store = config.store_path
        # The bot never kept the details' session; it does keep its other ones (the notice).
        kept = inbound_sessions(store, room)
        assert session not in kept and kept
        # The session was used for the details alone: the next message has another.
        reply = await ann.ask(room, bot.user_id, "!dsx help")
        later = [s for s in ann.from_user(room, bot.user_id) if s.get("content") == reply]
        after = await event_as(ann, room, later[0]["event_id"])
        assert after["content"]["session_id"] != session

        core = coordinator.running.coordinator
        await core.purge_delivered_intake()
        await core.purge_delivered_intake()  # queued once, however often the purge runs

        async def redaction_done() -> Any:
            async with core.engine.connect() as conn:
                rows = (
                    await conn.execute(sa.select(outbox).where(outbox.c.kind == REDACT_EVENT))
                ).all()
            return rows if rows and all(r.state == "sent" for r in rows) else None

        rows = await until(redaction_done, 60, "the redaction")
        assert len(rows) == 1
        assert redacted(await event_as(ann, room, details["event_id"]))
        assert session not in inbound_sessions(store, room)
    finally:
        if coordinator is not None:
            await coordinator.shutdown()
        await ann.close()


# -- Synapse's own database -------------------------------------------------------------------


async def test_redacted_content_is_erased_from_synapses_database(seeded: World):
    """With ``redaction_retention_period: 0`` Synapse rewrites each redacted event in its
    database with its pruned form at its next censoring pass (every five minutes, and
    every two seconds on the embedded homeservers: partner_bots/homeserver/launch.py). Read
    from Synapse's own database file: its admin API serves events from a cache that the
    censoring pass does not clear, so only the file tells what a seized server holds."""
    w, bot = seeded, seeded.bot
    hs = w.ann.hs
    redacted_ids = []
    for room_id in list(w.ann.client.rooms):
        for event in await history(w.ann, room_id):
            if event["sender"] == bot and redacted(event):
                redacted_ids.append(event["event_id"])
    assert redacted_ids, "the close above redacted the bot's messages"
    path = hs.directory / "homeserver.db"

    def stored() -> dict[str, dict[str, Any]]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            marks = ",".join("?" * len(redacted_ids))
            rows = db.execute(
                f"SELECT event_id, json FROM event_json WHERE event_id IN ({marks})",
                redacted_ids,
            ).fetchall()
        return {event_id: json.loads(raw) for event_id, raw in rows}

    before = stored()
    assert set(before) == set(redacted_ids)  # the events themselves stay (the DAG needs them)

    async def censored() -> bool:
        now = await asyncio.to_thread(stored)
        return all("ciphertext" not in e.get("content", {}) for e in now.values())

    await until(censored, 60, "Synapse's censoring pass", every=1)
    for event in stored().values():
        assert event["content"] == {}, event["event_id"]
