"""A message whose room key arrives late is held, the sender asked after the grace period,
and the message handed on once the key arrives."""

from __future__ import annotations

import uuid

import pytest
from nio import Api, RoomSendResponse, ToDeviceMessage

from partner_bots.events import IncomingMessage
from tests.matrix.conftest import BOT_DEVICE, MemoryRegistry, RecordingSink, bot_room

pytestmark = pytest.mark.synapse


async def test_late_room_key(homeserver, running_bots, partners):
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink, undecryptable_grace_seconds=0.5)
    partner = await partners(homeserver)
    room = await bot_room(partner, bot, registry)
    sent, key_content = await _send_without_key(partner, room)
    await _late_key_scenario(bot, sink, partner, room, sent, key_content)


async def _send_without_key(partner, room: str):
    """An Olm channel to the bot's device, and a message in a Megolm session it lacks."""
    client = partner.client
    await partner.sync()
    await client.joined_members(room)
    if client.should_query_keys:
        await client.keys_query()
    missing = client.get_missing_sessions(room)
    if missing:
        await client.keys_claim(missing)
    olm = client.olm
    olm.create_outbound_group_session(room)
    group = olm.outbound_group_sessions[room]
    key_content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": room,
        "session_id": group.id,
        "session_key": group.session_key,  # exported at index 0, before encrypting
    }
    group.shared = True
    text = f"!dsx status late-{uuid.uuid4().hex[:6]}"
    key_content["text"] = text
    etype, content = client.encrypt(
        room, "m.room.message", {"msgtype": "m.text", "body": text, "m.mentions": {}}
    )
    method, path, data = Api.room_send(client.access_token, room, etype, content, uuid.uuid4())
    sent = await client._send(RoomSendResponse, method, path, data, (room,))
    assert isinstance(sent, RoomSendResponse)
    return sent, key_content


async def _late_key_scenario(bot, sink, partner, room, sent, key_content) -> None:
    client, olm, bot_user = partner.client, partner.client.olm, bot.session.user_id
    text = key_content["text"]

    # Held, not dropped: after the grace period the bot asks the sender to send again.
    def asked() -> list[dict]:
        return [
            s
            for s in partner.sources(room, bot_user)
            if s.get("content", {}).get("org.dsx.reply", {}).get("error", {}).get("code")
            == "undecryptable"
        ]

    await partner.sync_until(lambda: bool(asked()), timeout=60, what="the re-send request")
    assert asked()[0]["content"]["m.mentions"] == {"user_ids": [partner.user_id]}
    assert sent.event_id in bot.undecryptable.held
    assert not [e for e in sink.events if isinstance(e, IncomingMessage)]

    # The key arrives late: the held message decrypts and is handed on, once.
    device = client.device_store[bot_user][BOT_DEVICE]
    olm_session = olm.session_store.get(device.curve25519)
    assert olm_session is not None
    key_content = {k: v for k, v in key_content.items() if k != "text"}
    encrypted = olm._olm_encrypt(olm_session, device, "m.room_key", key_content)
    await client.to_device(ToDeviceMessage("m.room.encrypted", bot_user, BOT_DEVICE, encrypted))
    await sink.wait_for(
        lambda: any(isinstance(e, IncomingMessage) and e.body == text for e in sink.events),
        timeout=60,
        what="the late-decrypted message",
    )
    (msg,) = [e for e in sink.events if isinstance(e, IncomingMessage)]
    assert msg.event_id == sent.event_id and msg.encrypted
    assert sent.event_id not in bot.undecryptable.held
    assert len(asked()) == 1  # asked once, not in a loop


async def test_withheld_key_is_explained_at_once(homeserver, running_bots, partners):
    """An MSC4153 client refuses the key (m.unverified): the bot asks without waiting."""
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink, undecryptable_grace_seconds=3600)
    partner = await partners(homeserver)
    room = await bot_room(partner, bot, registry)
    sent, key = await _send_without_key(partner, room)
    client = partner.client
    withheld = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": room,
        "session_id": key["session_id"],
        "sender_key": client.olm.account.identity_keys["curve25519"],
        "code": "m.unverified",
        "reason": "Device not verified",
    }
    await _until_held(bot, sent.event_id)
    await client.to_device(
        ToDeviceMessage("m.room_key.withheld", bot.session.user_id, BOT_DEVICE, withheld)
    )

    def asked() -> list[dict]:
        return [
            s["content"]
            for s in partner.sources(room, bot.session.user_id)
            if s.get("content", {}).get("org.dsx.reply", {}).get("error", {}).get("code")
            == "undecryptable"
        ]

    await partner.sync_until(lambda: bool(asked()), timeout=60, what="the explanation")
    assert "verify" in asked()[0]["body"]
    assert bot.undecryptable.held[sent.event_id].withheld == "m.unverified"


async def _until_held(bot, event_id: str, timeout: float = 60) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while event_id not in bot.undecryptable.held:
        assert loop.time() < deadline, "the event was never held"
        await asyncio.sleep(0.05)
