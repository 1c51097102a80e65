"""A partner room upgraded on a real Synapse through its room upgrade API by the partner's
admin (docs/operator.md, "Room upgrades"): the bot follows it into the replacement as
Element's "invite members to the new room" does, serves it as the same partner's room
(also after a restart with the old configuration), posts nothing more into the old room,
and tells staff and ``dsx doctor`` what to change in ``dsx.toml``; then the same for the
staff room."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import sqlalchemy as sa

from coordinator.store import schema
from dsx.cli.doctor import Status
from dsx.cli.doctor_rooms import check_upgraded_rooms
from partner_bots.homeserver.synapse import Homeserver
from partner_bots.render.notice import notice as plain_notice
from tests.conftest import _require_synapse
from tests.workflow.harness import (
    REPLY,
    Member,
    PartnerSpec,
    join_bot,
    make_config,
    new_member,
    start_coordinator,
    tag,
)


async def upgrade_room(hs: Homeserver, member: Member, room: str, version: str) -> str:
    """POST /rooms/{roomId}/upgrade, as the room's admin does from Element's settings."""
    url = f"{hs.base_url}/_matrix/client/v3/rooms/{quote(room, safe='')}/upgrade"
    headers = {"Authorization": f"Bearer {member.client.access_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"new_version": version}, headers=headers) as resp:
            body = await resp.json()
            assert resp.status == 200, body
    return str(body["replacement_room"])


async def room_version(hs: Homeserver, member: Member, room: str) -> str:
    url = f"{hs.base_url}/_matrix/client/v3/rooms/{quote(room, safe='')}/state/m.room.create/"
    headers = {"Authorization": f"Bearer {member.client.access_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers) as resp:
            return str((await resp.json()).get("room_version", "1"))


def bot_events_after(member: Member, room: str, bot: str, ts: int) -> list[dict[str, Any]]:
    return [s for s in member.from_user(room, bot) if s.get("origin_server_ts", 0) >= ts]


@pytest.mark.synapse
async def test_an_upgraded_partner_room_is_followed(tmp_path, sqlite_url):
    _require_synapse()
    hs = Homeserver(tmp_path / "hs")
    await hs.start()
    members: list[Member] = []
    coordinator = None
    try:
        bot = await hs.register(f"dsx-{tag()}")
        ann = await new_member(hs, tmp_path / "clients", "ann")
        members.append(ann)
        room = await ann.create_encrypted_room(invite=[])
        staff_room = await ann.create_encrypted_room(invite=[])
        config = make_config(
            hs,
            bot.user_id,
            bot.password,
            tmp_path / "data",
            [PartnerSpec("alpha", room, (ann.user_id,))],
            staff_room=staff_room,
            staff_members=(ann.user_id,),
            database_url=sqlite_url,
        )
        coordinator = await start_coordinator(config)
        await join_bot(ann, room, bot.user_id)
        await join_bot(ann, staff_room, bot.user_id)
        before = await ann.ask(room, bot.user_id, "!dsx org add up-org-1 region=US-CA")
        assert before[REPLY]["ok"], before["body"]

        # Ann, the room's admin, upgrades it (Element: Settings → Advanced → Upgrade).
        upgraded_at = int(time.time() * 1000)
        version = "11" if await room_version(hs, ann, room) != "11" else "10"
        new_room = await upgrade_room(hs, ann, room, version)
        await ann.sync()
        # Element's "automatically invite members to the new room".
        await join_bot(ann, new_room, bot.user_id)

        # The new room is alpha's: a command there is answered there.
        reply = await ann.ask(new_room, bot.user_id, "!dsx org add up-org-2 region=US-CA")
        assert reply[REPLY]["ok"], reply["body"]
        engine = coordinator.running.coordinator.engine
        async with engine.connect() as conn:
            rooms = (
                await conn.execute(
                    sa.select(schema.partners.c.rooms).where(schema.partners.c.handle == "alpha")
                )
            ).scalar_one()
        assert list(rooms) == [new_room]

        # Staff are told what to change in dsx.toml.
        notice = await ann.wait_event(
            staff_room,
            bot.user_id,
            lambda s: "upgraded" in s.get("content", {}).get("body", ""),
            what="the upgrade notice",
        )
        body = notice["content"]["body"]
        assert room in body and new_room in body and "replace" in body

        # Something the core still addresses to the old room reaches the new one.
        async def body_(tx: Any) -> Any:
            await tx.send(room, plain_notice("follow-up for the old room"))

        await coordinator.running.coordinator.transaction("test_send", body_, object)
        coordinator.running.delivery.wake()
        await ann.wait_event(
            new_room,
            bot.user_id,
            lambda s: s.get("content", {}).get("body") == "follow-up for the old room",
            what="the redirected message",
        )
        await ann.sync()
        assert bot_events_after(ann, room, bot.user_id, upgraded_at) == []

        # dsx doctor says which setting still names the old room.
        result = await check_upgraded_rooms(config)
        assert result.status is Status.WARN and f"replace {room} with {new_room}" in result.fix

        # A restart with the unchanged configuration serves the new room.
        await coordinator.shutdown()
        coordinator = await start_coordinator(config)
        reply = await ann.ask(new_room, bot.user_id, "!dsx org add up-org-3 region=US-CA")
        assert reply[REPLY]["ok"], reply["body"]
        await ann.sync()
        assert bot_events_after(ann, room, bot.user_id, upgraded_at) == []

        # The staff room, upgraded by a listed staff member, is followed too: staff
        # commands work in the new one, and its notices go there.
        staff_upgraded_at = int(time.time() * 1000)
        new_staff = await upgrade_room(hs, ann, staff_room, version)
        await ann.sync()
        await join_bot(ann, new_staff, bot.user_id)
        queue = await ann.ask(new_staff, bot.user_id, "!dsx queue")
        assert queue[REPLY]["ok"], queue["body"]
        await ann.wait_event(
            new_staff,
            bot.user_id,
            lambda s: "[staff] room" in s.get("content", {}).get("body", ""),
            what="the staff room's own upgrade notice",
        )
        assert bot_events_after(ann, staff_room, bot.user_id, staff_upgraded_at) == []
    finally:
        if coordinator is not None:
            await coordinator.shutdown()
        for m in members:
            await m.close()
        await hs.stop()
