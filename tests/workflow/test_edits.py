"""Edited commands (docs/partner.md, "Fixing a typo"), in process: the sink over the real
coordinator on both databases, replies read from the outbox. The same through a real
homeserver with real edit events is in tests/workflow/test_edits_synapse.py.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from coordinator.store import schema
from partner_bots.events import IncomingMessage
from partner_bots.render.reply import REPLY_KEY
from partner_bots.workflow.edits import NOT_RUN_CODE, Original
from tests.workflow.test_room_rules import (
    ALPHA,
    ANN,
    MALLORY,
    ORIGIN,
    audit_actions,
    clock,
    coord,
    network,
    replies,
    sink_for,
    state,
)

__all__ = ["clock", "coord"]  # fixtures


class Originals:
    """What the homeserver would say about each original (tests add to it)."""

    def __init__(self) -> None:
        self.known: dict[str, Original] = {}

    async def original(self, room_id: str, event_id: str) -> Original | None:
        return self.known.get(event_id)


def message(body: str, sender: str = ANN, *, replaces: str | None = None) -> IncomingMessage:
    return IncomingMessage(
        room_id=ALPHA,
        event_id=f"${secrets.token_hex(8)}",
        sender=sender,
        msgtype="m.text",
        body=body,
        formatted_body=None,
        encrypted=True,
        thread_root=None,
        reply_to=None,
        server_ts=0,
        content={"msgtype": "m.text", "body": body},
        origin=ORIGIN,
        replaces=replaces,
    )


class Room:
    def __init__(self, c: Any) -> None:
        self.c = c
        self.sink = sink_for(c)
        self.originals = Originals()
        self.sink.originals = self.originals

    async def send(self, body: str, sender: str = ANN, thread: str | None = None) -> str:
        ev = message(body, sender)
        self.originals.known[ev.event_id] = Original(sender, thread, True, False)
        await self.sink(ev)
        return ev.event_id

    async def edit(self, original: str, body: str, sender: str = ANN) -> IncomingMessage:
        ev = message(body, sender, replaces=original)
        self.originals.known[ev.event_id] = Original(sender, None, True, True)
        await self.sink(ev)
        return ev

    async def replies(self) -> list[dict[str, Any]]:
        return await replies(self.c, ALPHA)


async def orgs(c: Any) -> list[str]:
    async with c.engine.connect() as conn:
        query = sa.select(schema.organizations.c.id).order_by(schema.organizations.c.id)
        return list((await conn.execute(query)).scalars())


async def test_a_failed_command_fixed_by_an_edit_runs_once(coord):
    c = coord
    await network(c)
    room = Room(c)
    typo = await room.send("!dsx org ad edit-org-1 region=US-CA")
    assert not (await room.replies())[-1][REPLY_KEY]["ok"]
    assert "edit-org-1" not in await orgs(c)

    fixed = await room.edit(typo, "!dsx org add edit-org-1 region=US-CA")
    answer = (await room.replies())[-1]
    assert answer[REPLY_KEY]["ok"], answer["body"]
    assert "edit-org-1" in await orgs(c)
    # In the original's thread (each edit starts one on it), replying to the original.
    relates = answer["m.relates_to"]
    assert relates["rel_type"] == "m.thread" and relates["event_id"] == typo
    assert relates["m.in_reply_to"]["event_id"] == typo

    # Redelivered (a crash and replay): nothing twice.
    count = len(await room.replies())
    await room.sink(fixed)
    assert len(await room.replies()) == count

    # Now carried out: a further edit of the same original is answered, not run.
    before = await state(c)
    await room.edit(typo, "!dsx org add edit-org-2 region=US-CA")
    again = (await room.replies())[-1][REPLY_KEY]
    assert again["error"]["code"] == NOT_RUN_CODE
    assert await state(c) == before


async def test_an_edit_of_a_carried_out_command_is_not_run(coord):
    c = coord
    await network(c)
    room = Room(c)
    done = await room.send("!dsx org add edit-org-3 region=US-CA", thread="$thread-root")
    assert (await room.replies())[-1][REPLY_KEY]["ok"]
    before, count = await state(c), len(await room.replies())
    await room.edit(done, "!dsx org add edit-org-4 region=US-CA")
    after = await room.replies()
    assert len(after) == count + 1, "answered exactly once"
    assert after[-1][REPLY_KEY]["error"]["code"] == NOT_RUN_CODE
    assert "send the corrected command again" in after[-1]["body"]
    assert after[-1]["m.relates_to"]["event_id"] == "$thread-root"  # the original's thread
    assert await state(c) == before and "edit-org-4" not in await orgs(c)


async def test_a_chat_message_edited_into_a_command_runs(coord):
    c = coord
    await network(c)
    room = Room(c)
    chat = await room.send("good morning everyone")
    assert await room.replies() == []  # not addressed to the bot
    await room.edit(chat, "!dsx org add edit-org-5 region=US-CA")
    assert (await room.replies())[-1][REPLY_KEY]["ok"]
    assert "edit-org-5" in await orgs(c)


async def test_an_edit_by_someone_else_or_of_an_edit_is_ignored_and_audited(coord):
    c = coord
    await network(c)
    room = Room(c)
    typo = await room.send("!dsx org ad edit-org-6")
    before, count, actions = await state(c), len(await room.replies()), await audit_actions(c)
    # Mallory (in the room) "edits" Ann's message; clients would not even show it.
    await room.edit(typo, "!dsx org add edit-org-6 region=US-CA", sender=MALLORY)
    # Ann's edit of Ann's own edit is no edit either.
    first = await room.edit(typo, "not a command any more")
    await room.edit(first.event_id, "!dsx org add edit-org-6 region=US-CA")
    # An edit of something the homeserver does not show the bot.
    await room.edit("$unknown-event", "!dsx org add edit-org-6 region=US-CA")
    assert len(await room.replies()) == count and await state(c) == before
    new = (await audit_actions(c))[len(actions) :]
    assert new == ["command.edit_ignored"] * 3, new


async def test_an_original_that_arrives_after_its_edit_ran_is_not_run(coord):
    """Held until it could be decrypted, the original comes in after its edit: the edit
    took its place."""
    c = coord
    await network(c)
    room = Room(c)
    late = message("!dsx org add edit-org-7 region=US-CA")
    room.originals.known[late.event_id] = Original(ANN, None, True, False)
    await room.edit(late.event_id, "!dsx org add edit-org-8 region=US-CA")
    assert "edit-org-8" in await orgs(c)
    count = len(await room.replies())
    await room.sink(late)
    assert len(await room.replies()) == count and "edit-org-7" not in await orgs(c)


async def test_a_plaintext_edit_is_not_a_command(coord):
    c = coord
    await network(c)
    room = Room(c)
    typo = await room.send("!dsx org ad edit-org-9")
    clear = message("!dsx org add edit-org-9 region=US-CA", replaces=typo)
    clear = IncomingMessage(**{**clear.__dict__, "encrypted": False, "origin": None})
    await room.sink(clear)
    assert (await room.replies())[-1][REPLY_KEY]["error"]["code"] == "unencrypted_command"
    assert "edit-org-9" not in await orgs(c)


async def test_an_edit_that_fails_too_can_be_edited_again(coord):
    c = coord
    await network(c)
    room = Room(c)
    typo = await room.send("!dsx org ad edit-org-10 region=US-CA")
    await room.edit(typo, "!dsx org add edit-org-10 region=NOWHERE-99")
    assert not (await room.replies())[-1][REPLY_KEY]["ok"]
    await room.edit(typo, "!dsx org add edit-org-10 region=US-CA")
    assert (await room.replies())[-1][REPLY_KEY]["ok"]
    assert "edit-org-10" in await orgs(c)
