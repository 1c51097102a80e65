"""A proposal of any age, on two federated homeservers: after 5,000 other outbox rows, a ✅
in each approving partner's room still finds the proposal (by key, ``proposal_posts``),
approves it, and edits every posted copy; what follows about the request still joins its
thread in each room (``request_threads``)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from coordinator.store.schema import outbox, proposal_posts
from tests.workflow.conftest import World
from tests.workflow.harness import ENGAGEMENT, PROPOSAL, Member
from tests.workflow.test_story import ok, proposal_in, request_id, seed

pytestmark = pytest.mark.synapse

FILLER_ROWS = 5_000


@pytest.fixture(scope="module")
async def seeded(world: World) -> World:
    await seed(world)
    return world


async def fill_outbox(w: World, rows: int) -> None:
    """``rows`` messages that went out after the proposal, in both partners' rooms and the
    staff room (written directly: fast)."""
    now = datetime.now(UTC)
    rooms = (w.room_a, w.room_b, w.room_s)
    values = [
        {
            "id": f"filler{i:06d}{secrets.token_hex(4)}",
            "room": rooms[i % len(rooms)],
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


def edited_to(original: str, status: str):
    def seen(s: dict[str, Any]) -> bool:
        rel = s["content"].get("m.relates_to") or {}
        new = s["content"].get("m.new_content", {}).get(PROPOSAL, {})
        return rel.get("event_id") == original and new.get("status") == status

    return seen


def thread_of(content: dict[str, Any]) -> str | None:
    rel = content.get("m.relates_to") or {}
    return rel.get("event_id") if rel.get("rel_type") == "m.thread" else None


async def test_both_copies_are_approved_and_edited_after_5000_rows(seeded: World):
    w, bot = seeded, seeded.bot
    p3 = w.providers["p3"].user_id
    cmd = await w.ann.command(w.room_a, "!dsx request legal-aid skills=forensics")
    req = request_id(ok(await w.ann.reply_to(w.room_a, bot, cmd)))
    mine = await proposal_in(w.ann, w.room_a, bot, req)
    theirs = await proposal_in(w.bea, w.room_b, bot, req)
    assert mine["content"][PROPOSAL]["provider"] == p3
    assert mine["content"][PROPOSAL]["approvals_needed"] == ["alpha", "beta"]
    assert "legal-aid" not in str(theirs["content"])  # need to know

    await fill_outbox(w, FILLER_ROWS)
    async with w.coordinator.running.coordinator.engine.connect() as conn:
        total = (await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one()
        copies = (
            await conn.execute(
                sa.select(proposal_posts.c.event_id).where(
                    proposal_posts.c.proposal == mine["content"][PROPOSAL]["id"]
                )
            )
        ).scalars()
        assert set(copies) == {mine["event_id"], theirs["event_id"]}
    assert total > FILLER_ROWS

    await w.ann.react(w.room_a, mine["event_id"], "✅")
    waiting = ok(await w.ann.reply_to(w.room_a, bot, mine["event_id"]))
    assert "beta" in waiting["body"]
    await w.bea.react(w.room_b, theirs["event_id"], "✅")
    done = ok(await w.bea.reply_to(w.room_b, bot, theirs["event_id"]))
    assert "engagement" in done["body"]
    engagement = done["body"].split("engagement ")[1].split()[0]

    # Every posted copy shows the approval, each in its own room.
    member: Member
    for member, room, copy in ((w.ann, w.room_a, mine), (w.bea, w.room_b, theirs)):
        await member.wait_event(
            room, bot, edited_to(copy["event_id"], "approved"), what=f"the edit in {room}"
        )
    # The engagement notice joins the request's thread in the room it was filed in.
    notice = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda s: (s["content"].get(ENGAGEMENT) or {}).get("id") == engagement,
        what="the engagement notice",
    )
    assert thread_of(notice["content"]) == cmd
    assert notice["content"][ENGAGEMENT]["room"].startswith("!")
