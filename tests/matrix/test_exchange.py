"""Encrypted exchange both ways between the bot and a plain nio client, across federation."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from nio import Api, RoomSendResponse

from partner_bots.events import IncomingMessage, IncomingReaction, IncomingRedaction
from partner_bots.render import as_reply, edit, in_thread, notice
from tests.matrix.conftest import MemoryRegistry, RecordingSink, bot_room

pytestmark = pytest.mark.synapse


async def test_encrypted_exchange_across_federation(federation, running_bots, partners):
    hs1, hs2 = federation
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(hs1, registry, sink)
    partner = await partners(hs2)
    room = await bot_room(partner, bot, registry)

    # Partner -> bot, encrypted.
    text = f"!dsx status {uuid.uuid4().hex[:6]}"
    asked = await partner.send_text(room, text)
    await sink.wait_for(
        lambda: any(isinstance(e, IncomingMessage) and e.event_id == asked for e in sink.events),
        what="the partner's message",
    )
    (msg,) = [e for e in sink.events if isinstance(e, IncomingMessage)]
    assert msg.body == text and msg.encrypted and msg.sender == partner.user_id

    # Bot -> partner: a threaded notice with HTML and explicit mentions, a reply, an edit,
    # and a reaction; all encrypted, all readable on the other server.
    sender = bot.sender
    content = in_thread(notice("hi *you*", "hi <b>you</b>", [partner.user_id]), asked)
    first = await sender.send(room, "m.room.message", content, tx_id="tx-" + uuid.uuid4().hex)
    reply = await sender.send(room, "m.room.message", as_reply(notice("re"), asked))
    edited = await sender.send(room, "m.room.message", edit(first.event_id, notice("hi again")))
    react = await sender.react(room, asked, "✅")
    assert first.encrypted and react.encrypted

    wanted = {first.event_id, reply.event_id, edited.event_id, react.event_id}

    def seen() -> dict[str, dict]:
        return {s["event_id"]: s for s in partner.sources(room, bot.session.user_id)}

    await partner.sync_until(lambda: wanted <= set(seen()), timeout=60, what="bot events")
    got = seen()
    assert not [e for r, e in partner.undecrypted if r == room]
    assert got[first.event_id]["content"]["formatted_body"] == "hi <b>you</b>"
    assert got[first.event_id]["content"]["m.mentions"] == {"user_ids": [partner.user_id]}
    assert got[first.event_id]["content"]["m.relates_to"]["rel_type"] == "m.thread"
    assert got[reply.event_id]["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == asked
    assert got[edited.event_id]["content"]["m.new_content"]["body"] == "hi again"
    assert got[react.event_id]["type"] == "m.reaction"
    assert got[react.event_id]["content"]["m.relates_to"]["key"] == "✅"
    # It arrived encrypted: the partner's nio decrypted it from an m.room.encrypted event.
    decrypted = [e for r, e in partner.events if getattr(e, "event_id", None) == react.event_id]
    assert decrypted and decrypted[0].decrypted

    # Partner reactions: one encrypted, one in the clear (Element Web), then a redaction.
    client = partner.client
    etype, econtent = client.encrypt(
        room,
        "m.reaction",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": first.event_id, "key": "👍"}},
    )
    method, path, data = Api.room_send(client.access_token, room, etype, econtent, uuid.uuid4())
    enc = await client._send(RoomSendResponse, method, path, data, (room,))
    clear = await client.room_send(
        room,
        "m.reaction",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": first.event_id, "key": "❌"}},
    )
    redaction = await client.room_redact(room, clear.event_id)

    def reactions() -> dict[str, IncomingReaction]:
        return {e.event_id: e for e in sink.events if isinstance(e, IncomingReaction)}

    await sink.wait_for(
        lambda: (
            {enc.event_id, clear.event_id} <= set(reactions())
            and any(isinstance(e, IncomingRedaction) for e in sink.events)
        ),
        what="reactions and the redaction",
    )
    assert reactions()[enc.event_id].encrypted and reactions()[enc.event_id].key == "👍"
    assert not reactions()[clear.event_id].encrypted
    assert reactions()[clear.event_id].reacts_to == first.event_id
    (red,) = [e for e in sink.events if isinstance(e, IncomingRedaction)]
    assert red.redacts == clear.event_id and red.event_id == redaction.event_id
    # The bot never hands its own events (or notices) to the handler.
    assert all(e.sender == partner.user_id for e in sink.events)


async def test_concurrent_sends_while_members_change(homeserver, running_bots, partners):
    """nio's sync_forever died on concurrent sends ('No key query required'); ours must not."""
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink)
    first = await partners(homeserver, "first")
    room = await bot_room(first, bot, registry)
    later = [await partners(homeserver, "later")]
    for p in later:
        await first.client.room_invite(room, p.user_id)

    async def join(p) -> None:
        await p.accept_invite(room)

    sends = [
        bot.sender.send(room, "m.room.message", notice(f"n{i}"), tx_id=uuid.uuid4().hex)
        for i in range(8)
    ]
    results = await asyncio.gather(*sends, *(join(p) for p in later))
    event_ids = [r.event_id for r in results[:8]]
    assert len(set(event_ids)) == 8
    # The loop kept syncing throughout, and the newcomers can read what follows.
    before = bot.sync.syncs
    marker = await bot.sender.send(room, "m.room.message", notice("after joins"))
    for p in later:
        await p.sync_until(
            lambda p=p: any(
                s["event_id"] == marker.event_id and s["content"].get("body") == "after joins"
                for s in p.sources(room)
            ),
            what="the message after the joins",
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while bot.sync.syncs <= before:  # the long-poll returns with our own marker
        assert loop.time() < deadline, "the sync loop stopped"
        await asyncio.sleep(0.05)
    assert bot.sync.crashes == 0
