"""A partner with several rooms, on real federated homeservers: everything about a request
goes to the room it was filed in (in its thread), never to an unencrypted room, whatever
the rooms' order; the engagement block names the room the provider is invited to; the
bot says nothing in plain text in a room it created; a ✅ on a proposal finds it however
many messages went out since."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from coordinator.config import PartnerConfig
from coordinator.store.outbox import enqueue, partner_address
from coordinator.store.schema import outbox, requests
from tests.workflow.harness import (
    ENGAGEMENT,
    PROPOSAL,
    REPLY,
    Coordinator,
    Member,
    PartnerSpec,
    join_bot,
    make_config,
    proposal_of,
    start_coordinator,
)
from tests.workflow.test_story import ask_ok, ok, request_id, wait_invite

pytestmark = pytest.mark.synapse

FILLER_ROWS = 5_000


@dataclass
class Rooms:
    coordinator: Coordinator
    ann: Member
    provider: Member
    first: str  # alpha's encrypted room that sorts first
    second: str  # alpha's other encrypted room: requests are filed here
    plain: list[str]  # alpha's unencrypted rooms (one sorts before both encrypted ones)

    @property
    def bot(self) -> str:
        return self.coordinator.bot

    @property
    def all(self) -> list[str]:
        return [self.first, self.second, *self.plain]


async def plain_room(member: Member) -> str:
    resp = await member.client.room_create(invite=[])
    room = getattr(resp, "room_id", None)
    if room is None:
        raise RuntimeError(f"room creation failed: {resp}")
    return room


@pytest.fixture(scope="module")
async def rooms(federation, tmp_path_factory) -> AsyncIterator[Rooms]:
    hs1, hs2 = federation
    root = tmp_path_factory.mktemp("partner-rooms")
    ann = await Member.create(hs1, root / "clients", "ann")
    provider = await Member.create(hs2, root / "clients", "prov")
    members = [ann, provider]
    coordinator = None
    try:
        # Room ids are random: make sure an unencrypted one sorts before both encrypted
        # ones, so "the first room in sorted order" is an unencrypted one (encrypted rooms
        # that would sort first are created but not registered).
        plain = [await plain_room(ann) for _ in range(3)]
        encrypted: list[str] = []
        for _ in range(20):
            room = await ann.create_encrypted_room(invite=[])
            if room > min(plain):
                encrypted.append(room)
            if len(encrypted) == 2:
                break
        encrypted.sort()
        assert len(encrypted) == 2 and min(plain) < encrypted[0]
        registered = sorted([*encrypted, *plain])
        assert registered[0] in plain
        password = secrets.token_urlsafe(12)
        bot = await hs1.register(f"dsxbot-{secrets.token_hex(3)}", password)
        config = make_config(
            hs1, bot.user_id, password, root / "data", [PartnerSpec("alpha", "", ())]
        )
        config = dataclasses.replace(
            config, partners=(PartnerConfig("alpha", tuple(registered), (ann.user_id,)),)
        )
        coordinator = await start_coordinator(config)
        # Encrypted rooms first: the member learns the bot's devices there.
        for room in [*encrypted, *plain]:
            await join_bot(ann, room, bot.user_id)
        yield Rooms(coordinator, ann, provider, encrypted[0], encrypted[1], plain)
    finally:
        if coordinator is not None:
            await coordinator.shutdown()
        for m in members:
            await m.close()


async def plain_from_bot(w: Rooms, room_id: str) -> list[dict[str, Any]]:
    """The bot's unencrypted messages in a room's whole timeline (from the homeserver)."""
    raw = w.coordinator.running.bot.session.raw
    path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages"
    resp = await raw.request("GET", path, dir="b", limit="500")
    assert resp.ok, resp.body
    events = resp.body["chunk"]
    assert any(e.get("type") == "m.room.create" for e in events)  # all of it
    return [e for e in events if e.get("sender") == w.bot and e.get("type") == "m.room.message"]


def in_thread(content: dict[str, Any], root: str) -> bool:
    rel = content.get("m.relates_to") or {}
    return rel.get("rel_type") == "m.thread" and rel.get("event_id") == root


async def fill_outbox(w: Rooms, rows: int) -> None:
    """``rows`` messages that went out after the proposal (written directly: fast)."""
    now = datetime.now(UTC)
    values = [
        {
            "id": f"filler{i:06d}{secrets.token_hex(4)}",
            "room": w.second,
            "kind": "message",
            "content": {"msgtype": "m.notice", "body": "filler"},
            "created_at": now,
            "state": "sent",
            "attempts": 1,
            "available_at": now,
            "event_id": f"$filler{i}",
        }
        for i in range(rows)
    ]
    async with w.coordinator.running.coordinator.engine.begin() as conn:
        await conn.execute(outbox.insert(), values)


async def test_a_request_filed_in_a_second_room_lives_there(rooms: Rooms):
    w, bot = rooms, rooms.bot
    p = w.provider.user_id
    for body in (
        "!dsx org add tenants region=US-CA",
        "!dsx vouch tenants",
        "!dsx vet tenants",
        f"!dsx provider add {p} skills=phishing langs=en regions=US-CA capacity=2",
        f"!dsx vouch {p}",
        f"!dsx vet {p}",
    ):
        await ask_ok(w.ann, w.second, bot, body)

    cmd = await w.ann.command(w.second, "!dsx request tenants skills=phishing")
    filed = ok(await w.ann.reply_to(w.second, bot, cmd))
    assert "a proposal follows" in filed["body"]
    assert in_thread(filed, cmd)
    req = request_id(filed)
    posted = await w.ann.wait_event(
        w.second,
        bot,
        lambda s: (
            (proposal_of(s) or {}).get("request") == req and "m.new_content" not in s["content"]
        ),
        what="the proposal in the room the request was filed in",
    )
    assert in_thread(posted["content"], cmd)
    assert posted["content"][PROPOSAL]["provider"] == p

    # 5,000 messages went out since; a ✅ still finds the proposal and edits it.
    await fill_outbox(w, FILLER_ROWS)
    await w.ann.react(w.second, posted["event_id"], "✅")
    approved = ok(await w.ann.reply_to(w.second, bot, posted["event_id"]))
    assert "engagement" in approved["body"] and in_thread(approved, cmd)
    engagement = approved["body"].split("engagement ")[1].split()[0]
    edit = await w.ann.wait_event(
        w.second,
        bot,
        lambda s: (
            (s["content"].get("m.relates_to") or {}).get("event_id") == posted["event_id"]
            and s["content"].get("m.new_content", {}).get(PROPOSAL, {}).get("status") == "approved"
        ),
        what="the proposal edited to approved",
    )
    assert edit
    notice = await w.ann.wait_event(
        w.second,
        bot,
        lambda s: (s["content"].get(ENGAGEMENT) or {}).get("id") == engagement,
        what="the engagement notice",
    )
    assert in_thread(notice["content"], cmd)

    # The block names the Matrix room the provider is invited to.
    invited = await wait_invite(w.provider)
    assert notice["content"][ENGAGEMENT]["room"] == invited
    await w.provider.accept_invite(invited)
    await w.provider.read_history(invited)
    intro = await w.provider.wait_event(
        invited, bot, lambda s: ENGAGEMENT in s.get("content", {}), what="the introduction"
    )
    assert intro["content"][ENGAGEMENT]["room"] == invited

    # Nothing about the request went to alpha's other rooms.
    await w.ann.sync()
    for room in (w.first, *w.plain):
        about = [s for s in w.ann.from_user(room, bot) if req in str(s.get("content"))]
        assert about == [], room

    # The bot said nothing in plain text in the room it created encrypted (the raw
    # timeline, as the homeserver holds it, read by the bot's account: it saw it all).
    assert await plain_from_bot(w, invited) == []
    assert invited not in w.coordinator.running.bot.rooms.refused

    # A request cannot be filed from the engagement room (the provider reads it): refused,
    # and nothing is filed.
    async def filed_requests() -> int:
        async with w.coordinator.running.coordinator.engine.connect() as conn:
            count = sa.select(sa.func.count()).select_from(requests)
            return (await conn.execute(count)).scalar_one()

    before = await filed_requests()
    await w.ann.accept_invite(invited)
    refused = await w.ann.ask(invited, bot, "!dsx request tenants skills=phishing")
    assert refused[REPLY]["error"]["code"] == "not_a_partner_room"
    assert await filed_requests() == before
    assert invited not in w.coordinator.running.bot.rooms.refused


async def test_a_message_for_no_request_goes_to_the_first_encrypted_room(rooms: Rooms):
    """``partner:<handle>`` (intake, referrals): the partner's first encrypted room in
    sorted order, although an unencrypted room sorts before it."""
    w, bot = rooms, rooms.bot
    marker = f"for-no-request-{secrets.token_hex(4)}"
    async with w.coordinator.running.coordinator.engine.begin() as conn:
        await enqueue(
            conn,
            room=partner_address("alpha"),
            kind="message",
            content={"msgtype": "m.notice", "body": marker, REPLY: {"ok": True}},
            now=datetime.now(UTC),
        )
    w.coordinator.running.delivery.wake()
    await w.ann.wait_event(w.first, bot, lambda s: marker in str(s["content"]), what="it")
    for room in (w.second, *w.plain):
        assert not [s for s in w.ann.from_user(room, bot) if marker in str(s["content"])]
    async with w.coordinator.running.coordinator.engine.connect() as conn:
        state = (
            await conn.execute(
                sa.select(outbox.c.state).where(outbox.c.room == partner_address("alpha"))
            )
        ).scalar_one()
    assert state == "sent"


async def test_a_room_seen_before_its_encryption_state_gets_no_plaintext_notice(rooms: Rooms):
    """A sync can show a room before all of its initial state (one being created): the
    bot asks the homeserver before judging, and never judges a room it created."""
    w = rooms
    bot = w.coordinator.running.bot
    client = bot.session.client
    # An encrypted partner room, as a sync that has not shown its encryption yet.
    client.rooms[w.first].encrypted = False
    try:
        await bot.rooms._check_encrypted(w.first)
    finally:
        client.rooms[w.first].encrypted = True
    assert w.first not in bot.rooms.refused
    # A room the bot created, caught before its encryption state arrived.
    created = await client.room_create(name="dsx-test-own", initial_state=[])
    own = created.room_id
    await bot.sync.synced.wait()
    for _ in range(100):
        if own in client.rooms:
            break
        await asyncio.sleep(0.1)
    await bot.rooms._check_encrypted(own)
    assert own not in bot.rooms.refused
    for room in (w.first, own):
        assert await plain_from_bot(w, room) == [], room
    # A really unencrypted room is still told, once, why the bot will not work there.
    assert all(room in bot.rooms.refused for room in w.plain)
    told = await plain_from_bot(w, w.plain[0])
    assert [e["content"][REPLY]["error"]["code"] for e in told] == ["unencrypted_room"]
