"""The staff room on real homeservers: the vetting queue (notices and ``!dsx queue``) and the
SLA escalation drill (docs/staff.md: urgent requests not acted on within their window are
escalated to the staff room, once)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from coordinator import audit
from coordinator.config import PolicyConfig
from tests.workflow.conftest import World
from tests.workflow.harness import ENGAGEMENT, PROPOSAL, REPLY, Member, proposal_of

pytestmark = pytest.mark.synapse

# Critical requests are due at once; the checker runs every second. The window is in
# minutes in the configuration, and 0 is a valid (if unusual) choice.
WORLD_POLICY = PolicyConfig(sla_minutes_critical=0, sla_minutes_high=120, sla_check_seconds=1)
STAFF = "org.dsx.staff"


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply[REPLY]["ok"], reply.get("body")
    return reply


async def ask_ok(member: Member, room: str, bot: str, body: str) -> dict[str, Any]:
    return ok(await member.ask(room, bot, body))


def staff_block(event: dict[str, Any]) -> dict[str, Any]:
    return event.get("content", {}).get(STAFF) or {}


def staff_notices(w: World, kind: str) -> list[dict[str, Any]]:
    return [s for s in w.staff.from_user(w.room_s, w.bot) if staff_block(s).get("kind") == kind]


@pytest.fixture(scope="module")
async def seeded(world: World) -> World:
    w, bot = world, world.bot
    p1 = w.providers["p1"].user_id
    for body in (
        "!dsx org add kitchen region=US-CA",
        "!dsx vouch kitchen",
        "!dsx vet kitchen",
        f"!dsx provider add {p1} skills=phishing langs=en regions=US-CA capacity=3",
        f"!dsx vouch {p1}",
        f"!dsx vet {p1}",
    ):
        await ask_ok(w.ann, w.room_a, bot, body)
    return world


async def test_vetting_changes_reach_the_staff_room_and_queue_lists_applicants(seeded: World):
    w, bot = seeded, seeded.bot
    p1, p2 = w.providers["p1"].user_id, w.providers["p2"].user_id
    accepted = await w.staff.wait_event(
        w.room_s,
        bot,
        lambda s: staff_block(s).get("member") == p1 and staff_block(s).get("change") == "accepted",
        what="the provider leaving the vetting queue",
    )
    assert accepted["content"][STAFF]["paths"] == [["alpha", p1]]
    assert f"alpha → {p1}" in accepted["content"]["body"]
    changes = [staff_block(s)["change"] for s in staff_notices(w, "vetting")]
    assert changes.count("new applicant") >= 2 and "vouch from alpha" in changes  # p1, kitchen

    await ask_ok(
        w.bea,
        w.room_b,
        bot,
        f"!dsx provider add {p2} skills=forensics langs=en regions=US-CA capacity=1",
    )
    await ask_ok(w.bea, w.room_b, bot, f"!dsx vouch {p2} as=reference")
    vouched = await w.staff.wait_event(
        w.room_s,
        bot,
        lambda s: (
            staff_block(s).get("member") == p2
            and staff_block(s).get("change") == "reference from beta"
        ),
        what="the reference reported to staff",
    )
    assert vouched["content"][STAFF]["eligible"] is False
    assert "not accepted yet" in vouched["content"]["body"]

    queue = await ask_ok(w.staff, w.room_s, bot, "!dsx queue")
    assert queue["body"].startswith("1 waiting for vetting"), queue["body"]
    assert p2 in queue["body"] and "references 1" in queue["body"]
    assert p1 not in queue["body"] and "kitchen" not in queue["body"]
    refused = await w.ann.ask(w.room_a, bot, "!dsx queue")
    assert refused[REPLY]["error"]["code"] == "staff_only"


async def test_an_urgent_request_is_escalated_once(seeded: World, record_property):
    w, bot = seeded, seeded.bot
    cmd = await w.ann.command(w.room_a, "!dsx request kitchen skills=phishing urgency=critical")
    req = ok(await w.ann.reply_to(w.room_a, bot, cmd))["body"].split()[1]
    calm = ok(await w.ann.ask(w.room_a, bot, "!dsx request kitchen skills=phishing"))
    normal = calm["body"].split()[1]
    posted = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda s: (
            (proposal_of(s) or {}).get("request") == req and "m.new_content" not in s["content"]
        ),
        what="the proposal",
    )

    escalation = await w.staff.wait_event(
        w.room_s,
        bot,
        lambda s: req in staff_block(s).get("requests", []),
        what="the escalation",
    )
    assert staff_block(escalation)["kind"] == "sla"
    # The checker runs every second: the escalation follows the proposal within a few.
    late_ms = escalation["origin_server_ts"] - posted["origin_server_ts"]
    record_property("escalation_after_proposal_ms", late_ms)
    assert late_ms < 15_000, late_ms
    assert "kitchen" not in str(escalation["content"])  # staff see routing, not the org
    # Several more checks run (one a second); none escalates the request again.
    await asyncio.sleep(5)
    await w.staff.sync()
    escalated = [s for s in staff_notices(w, "sla") if req in staff_block(s)["requests"]]
    assert len(escalated) == 1
    assert not any(normal in staff_block(s)["requests"] for s in staff_notices(w, "sla"))

    # The partner's room and the request's thread are untouched by the escalation: the
    # proposal is still pending there, and approving it still opens the engagement.
    await w.ann.sync()
    after = [
        s
        for s in w.ann.from_user(w.room_a, bot)
        if s["origin_server_ts"] > posted["origin_server_ts"]
    ]
    assert not any(STAFF in s["content"] or "window" in s["content"].get("body", "") for s in after)
    assert not any(
        (s["content"].get("m.new_content") or {}).get(PROPOSAL, {}).get("id")
        == posted["content"][PROPOSAL]["id"]
        for s in after
    )
    await w.ann.react(w.room_a, posted["event_id"], "✅")
    approved = ok(await w.ann.reply_to(w.room_a, bot, posted["event_id"]))
    assert "engagement" in approved["body"]
    assert approved["m.relates_to"]["event_id"] == cmd  # in the request's thread
    opened = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda s: (s["content"].get(ENGAGEMENT) or {}).get("request") == req,
        what="the engagement notice",
    )
    assert opened["content"]["m.relates_to"]["event_id"] == cmd


async def test_audit_anchor_on_demand_names_count_and_hash_only(seeded: World):
    """`!dsx audit anchor` puts the chain's head in the staff room's history, outside the
    database: the notice carries the count and hash (and the command to check them), the
    reply only says it went out, and nobody is named in the anchor."""
    w, bot = seeded, seeded.bot
    core = w.coordinator.running.coordinator
    reply = await ask_ok(w.staff, w.room_s, bot, "!dsx audit anchor")
    assert "Audit anchor posted" in reply["body"]
    notice = await w.staff.wait_event(
        w.room_s,
        bot,
        lambda s: staff_block(s).get("kind") == "audit_anchor",
        what="the audit anchor",
    )
    block = staff_block(notice)
    anchor = audit.Anchor(block["count"], block["hash"])
    assert f"dsx audit verify --anchor {anchor}" in notice["content"]["body"]
    assert notice["content"]["m.mentions"] == {"user_ids": []}
    for person in (w.staff.user_id, w.ann.user_id, w.bea.user_id, "kitchen"):
        assert person not in str(notice["content"])
    # What the staff room holds is the chain's entry at that count.
    [entry] = await audit.entries(core.engine, after=anchor.count - 1, limit=1)
    assert (entry.seq, entry.hash) == (anchor.count, anchor.hash)
    assert await audit.verify(core.engine, core.audit_key, anchor) is None
