"""Where the bot works: registered, encrypted rooms only; power levels know v12 creators."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from nio import RoomCreateResponse, RoomMemberEvent

from partner_bots.events import IncomingMessage
from partner_bots.rooms import CREATOR_POWER, UNENCRYPTED_NOTICE, power_of
from tests.matrix.conftest import MemoryRegistry, RecordingSink, bot_room, wait_joined

pytestmark = pytest.mark.synapse


async def test_unencrypted_room_refused_with_a_reason(homeserver, running_bots, partners):
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink)
    partner = await partners(homeserver)
    created = await partner.client.room_create(invite=[])
    assert isinstance(created, RoomCreateResponse)
    plain = created.room_id
    registry.rooms.add(plain)
    await partner.client.room_invite(plain, bot.session.user_id)
    await wait_joined(partner, plain, bot.session.user_id)

    def refusal() -> list[dict]:
        return [
            s
            for s in partner.sources(plain, bot.session.user_id)
            if s.get("type") == "m.room.message"
        ]

    await partner.sync_until(lambda: bool(refusal()), what="the refusal notice")
    (msg,) = refusal()
    assert msg["content"]["msgtype"] == "m.notice"
    assert msg["content"]["body"] == UNENCRYPTED_NOTICE
    assert msg["content"]["org.dsx.reply"]["error"]["code"] == "unencrypted_room"

    # A command there is not handed on; one in an encrypted room is.
    await partner.send_text(plain, "!dsx status")
    good = await bot_room(partner, bot, registry)
    marker = f"marker {uuid.uuid4().hex[:6]}"
    await partner.send_text(good, marker)
    await sink.wait_for(
        lambda: any(isinstance(e, IncomingMessage) and e.body == marker for e in sink.events)
    )
    done = bot.sync.syncs
    # The batch that carried the marker has completed: anything earlier was dispatched.
    await asyncio.wait_for(_until(lambda: bot.sync.syncs > done), 30)
    assert not [e for e in sink.events if e.room_id == plain]
    # Nothing the bot would send for a case can go into the unencrypted room.
    from partner_bots.render.notice import notice
    from partner_bots.sending import SendError

    with pytest.raises(SendError) as err:
        await bot.sender.send(plain, "m.room.message", notice("case details"))
    assert err.value.code == "DSX_UNENCRYPTED_ROOM"


async def test_invite_to_unregistered_room_declined(homeserver, running_bots, partners):
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink)
    partner = await partners(homeserver)
    room = await partner.create_encrypted_room(invite=[bot.session.user_id])

    def declined() -> bool:
        return any(
            isinstance(e, RoomMemberEvent)
            and e.state_key == bot.session.user_id
            and e.membership == "leave"
            for r, e in partner.events
            if r == room
        )

    await partner.sync_until(declined, what="the bot to decline")
    assert room in bot.rooms.declined
    assert room not in bot.session.client.rooms or not bot.session.client.rooms[room].users.get(
        bot.session.user_id
    )


async def test_power_levels_honour_v12_creators(homeserver, bot_factory):
    bot = await bot_factory(homeserver)
    co = await homeserver.register(f"co-{uuid.uuid4().hex[:8]}")
    member = await homeserver.register(f"member-{uuid.uuid4().hex[:8]}")
    path = "/_matrix/client/v3/createRoom"
    v12 = await bot.raw.request(
        "POST",
        path,
        {
            "room_version": "12",
            "creation_content": {"additional_creators": [co.user_id]},
            "invite": [member.user_id],
        },
    )
    v11 = await bot.raw.request("POST", path, {"room_version": "11"})
    assert v12.ok and v11.ok, (v12, v11)
    await bot.client.sync(timeout=0, full_state=True)
    room12, room11 = v12.body["room_id"], v11.body["room_id"]
    assert await power_of(bot, room12, bot.user_id) == CREATOR_POWER
    assert await power_of(bot, room12, co.user_id) == CREATOR_POWER
    assert await power_of(bot, room12, member.user_id) == 0
    # Before v12 the creator is an ordinary admin with power level 100.
    assert await power_of(bot, room11, bot.user_id) == 100


async def _until(condition) -> None:
    while not condition():  # noqa: ASYNC110 - polling another object's counter; bounded
        await asyncio.sleep(0.05)


async def test_kick_and_ban_are_reported(homeserver, running_bots, partners):
    from partner_bots.rooms import Departure, RoomDeparture

    registry, sink = MemoryRegistry(), RecordingSink()
    departures: list[RoomDeparture] = []

    async def on_departure(d: RoomDeparture) -> None:
        departures.append(d)

    bot = await running_bots(homeserver, registry, sink, on_departure=on_departure)
    partner = await partners(homeserver)
    kicked_from = await bot_room(partner, bot, registry)
    banned_from = await bot_room(partner, bot, registry)
    # The bot speaks in the room first: its store then holds that room's megolm session.
    await _send_when_ready(bot, kicked_from)
    assert _sessions(bot, kicked_from) == (1, 1)
    await partner.client.room_kick(kicked_from, bot.session.user_id, "bye")
    await partner.client.room_ban(banned_from, bot.session.user_id, "go")
    await asyncio.wait_for(_until(lambda: len(departures) >= 2), 30)
    kinds = {d.room_id: (d.kind, d.by) for d in departures}
    assert kinds[kicked_from] == (Departure.KICKED, partner.user_id)
    assert kinds[banned_from] == (Departure.BANNED, partner.user_id)
    # Out of the room, it keeps no key to its history: not in memory, not in the store
    # (docs/security.md, "What the Matrix side keeps").
    assert _sessions(bot, kicked_from) == (0, 0)


async def _send_when_ready(bot, room_id: str) -> None:
    from partner_bots.sending import SendError

    for _ in range(100):
        try:
            await bot.sender.send(room_id, "m.room.message", {"msgtype": "m.notice", "body": "hi"})
            return
        except SendError as exc:
            if exc.permanent:
                raise
            await asyncio.sleep(0.2)
    raise TimeoutError("the bot could not send")


def _sessions(bot, room_id: str) -> tuple[int, int]:
    """The room's inbound megolm sessions: in nio's memory, and as rows of its store."""
    from nio.store.models import MegolmInboundSessions

    client = bot.session.client
    in_memory = sum(len(s) for s in client.olm.inbound_group_store[room_id].values())
    with client.store.database.bind_ctx(client.store.models):
        stored = (
            MegolmInboundSessions.select().where(MegolmInboundSessions.room_id == room_id).count()
        )
    return in_memory, stored
