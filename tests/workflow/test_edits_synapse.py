"""Edited commands on a real Synapse with real (encrypted) edit events as Element sends
them (docs/partner.md, "Fixing a typo"): a refused command fixed by an edit runs once, an
edit of a carried-out command is answered and not run, a chat message edited into a
command runs, and someone else's edit of a member's message is ignored and audited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from coordinator.store import schema
from partner_bots.homeserver.synapse import Homeserver
from partner_bots.workflow.edits import NOT_RUN_CODE
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


async def edit(member: Member, room: str, original: str, body: str) -> str:
    """An edit as Element sends it: encrypted, the relation in the clear."""
    resp = await member.send_encrypted(
        room,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": f" * {body}",
            "m.new_content": {"msgtype": "m.text", "body": body, "m.mentions": {}},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
            "m.mentions": {},
        },
    )
    sent = getattr(resp, "event_id", None)
    if sent is None:
        raise RuntimeError(f"edit failed: {resp}")
    return sent


def replies_to(member: Member, room: str, bot: str, event_id: str) -> list[dict[str, Any]]:
    out = []
    for s in member.from_user(room, bot):
        content = s.get("content", {})
        rel = content.get("m.relates_to") or {}
        if REPLY in content and (rel.get("m.in_reply_to") or {}).get("event_id") == event_id:
            out.append(s)
    return out


async def next_reply(member: Member, room: str, bot: str, event_id: str, seen: int) -> dict:
    """The bot's ``seen + 1``-th reply anchored at ``event_id`` (edits answer at the
    original, where the room shows them)."""
    await member.sync_until(
        lambda: len(replies_to(member, room, bot, event_id)) > seen, 60, "the bot's answer"
    )
    return replies_to(member, room, bot, event_id)[seen]["content"]


async def org_exists(engine: Any, org: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(schema.organizations.c.id).where(schema.organizations.c.id == org)
        )
        return found.first() is not None


@pytest.mark.synapse
async def test_edited_commands_on_a_real_homeserver(tmp_path, sqlite_url):
    _require_synapse()
    hs = Homeserver(tmp_path / "hs")
    await hs.start()
    members: list[Member] = []
    coordinator = None
    try:
        bot = await hs.register(f"dsx-{tag()}")
        ann = await new_member(hs, tmp_path / "clients", "ann")
        mallory = await new_member(hs, tmp_path / "clients", "mallory")
        members += [ann, mallory]
        room = await ann.create_encrypted_room(invite=[mallory.user_id])
        await mallory.accept_invite(room)
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
        engine = coordinator.running.coordinator.engine
        await join_bot(ann, room, bot.user_id)
        await join_bot(ann, staff_room, bot.user_id)
        await mallory.sync()

        # A typo is refused; its edit runs, once, in the original's thread.
        typo = await ann.command(room, "!dsx org ad edit-org-a region=US-CA")
        first = await next_reply(ann, room, bot.user_id, typo, 0)
        assert not first[REPLY]["ok"]
        await edit(ann, room, typo, "!dsx org add edit-org-a region=US-CA")
        fixed = await next_reply(ann, room, bot.user_id, typo, 1)
        assert fixed[REPLY]["ok"], fixed["body"]
        assert fixed["m.relates_to"]["rel_type"] == "m.thread"
        assert fixed["m.relates_to"]["event_id"] == typo
        assert await org_exists(engine, "edit-org-a")

        # Edited again, now that it was carried out: answered, not run.
        await edit(ann, room, typo, "!dsx org add edit-org-b region=US-CA")
        not_run = await next_reply(ann, room, bot.user_id, typo, 2)
        assert not_run[REPLY]["error"]["code"] == NOT_RUN_CODE
        assert not await org_exists(engine, "edit-org-b")

        # A chat message edited into a command runs.
        chat = await ann.command(room, "morning all, one moment")
        await edit(ann, room, chat, "!dsx org add edit-org-c region=US-CA")
        ran = await next_reply(ann, room, bot.user_id, chat, 0)
        assert ran[REPLY]["ok"], ran["body"]
        assert await org_exists(engine, "edit-org-c")

        # Mallory edits Ann's refused command: ignored, audited, no answer. Ann's next
        # command is the barrier: the bot handles a room's events in order.
        typo2 = await ann.command(room, "!dsx org ad edit-org-d region=US-CA")
        await next_reply(ann, room, bot.user_id, typo2, 0)
        await edit(mallory, room, typo2, "!dsx org add edit-org-d region=US-CA")
        barrier = await ann.command(room, "!dsx help")
        await next_reply(ann, room, bot.user_id, barrier, 0)
        await asyncio.sleep(0.5)
        await ann.sync()
        assert len(replies_to(ann, room, bot.user_id, typo2)) == 1
        assert not await org_exists(engine, "edit-org-d")
        async with engine.connect() as conn:
            actions = list((await conn.execute(sa.select(schema.audit_log.c.action))).scalars())
        assert "command.edit_ignored" in actions
    finally:
        if coordinator is not None:
            await coordinator.shutdown()
        for m in members:
            await m.close()
        await hs.stop()
