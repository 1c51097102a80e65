"""The partner workflow end to end on two federated homeservers (DESIGN §4, issue 6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow.conftest import World
from tests.workflow.harness import ENGAGEMENT, PROPOSAL, REPLY, Member, proposal_of

pytestmark = pytest.mark.synapse


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply[REPLY]["ok"], reply.get("body")
    return reply


async def ask_ok(member: Member, room: str, bot: str, body: str) -> dict[str, Any]:
    return ok(await member.ask(room, bot, body))


async def seed(world: World) -> None:
    """Providers, vouches and organizations with references, all by room commands."""
    w, bot = world, world.bot
    # The referees of a new organization must not hang on one introducer: beta's clinic.
    for body in ("!dsx org add clinic region=US-CA", "!dsx vouch clinic", "!dsx vet clinic"):
        await ask_ok(w.bea, w.room_b, bot, body)
    p1, p2, p3 = (w.providers[k].user_id for k in ("p1", "p2", "p3"))
    for body in (
        f"!dsx provider add {p1} skills=phishing,devices langs=en regions=US-CA capacity=2",
        f"!dsx provider add {p2} skills=phishing langs=en,es regions=US-CA capacity=2",
        f"!dsx vouch {p1}",
        f"!dsx vouch {p2}",
        f"!dsx vet {p1}",
        f"!dsx vet {p2}",
        "!dsx org add tenants region=US-CA areas=housing",
        "!dsx vouch tenants",
        "!dsx vet tenants",
        '!dsx org add "legal-aid" region=US-CA areas=immigration',
        "!dsx org ref legal-aid from=tenants",
        "!dsx org ref legal-aid from=clinic",
    ):
        await ask_ok(w.ann, w.room_a, bot, body)
    vetted = await ask_ok(w.ann, w.room_a, bot, "!dsx vet legal-aid")
    assert "is accepted" in vetted["body"], vetted["body"]
    # Beta vouches for a forensics provider on the second server.
    for body in (
        f"!dsx provider add {p3} skills=forensics langs=en regions=US-CA capacity=1",
        f"!dsx vouch {p3}",
        f"!dsx vet {p3}",
    ):
        await ask_ok(w.bea, w.room_b, bot, body)


@pytest.fixture(scope="module")
async def seeded(world: World) -> World:
    await seed(world)
    return world


async def proposal_in(member: Member, room: str, bot: str, request: str) -> dict[str, Any]:
    return await member.wait_event(
        room,
        bot,
        lambda s: (
            (proposal_of(s) or {}).get("request") == request
            and "m.new_content" not in s.get("content", {})
        ),
        what=f"proposal for {request}",
    )


def request_id(reply: dict[str, Any]) -> str:
    return reply["body"].split()[1]


async def test_full_story(seeded: World):
    w, bot = seeded, seeded.bot
    p1 = w.providers["p1"]
    cmd = await w.ann.command(
        w.room_a, '!dsx request legal-aid skills=devices langs=en urgency=high note="phones seized"'
    )
    filed = ok(await w.ann.reply_to(w.room_a, bot, cmd))
    req = request_id(filed)
    # The reply and the proposal sit in the request's own thread.
    assert filed["m.relates_to"]["rel_type"] == "m.thread"
    assert filed["m.relates_to"]["event_id"] == cmd
    posted = await proposal_in(w.ann, w.room_a, bot, req)
    block = posted["content"][PROPOSAL]
    assert block["provider"] == p1.user_id
    assert block["paths"] == [["alpha", p1.user_id]]
    assert block["approvals_needed"] == ["alpha"]
    assert posted["content"]["m.relates_to"]["event_id"] == cmd
    assert "legal-aid" in posted["content"]["body"]

    # Approve by ✅: the engagement opens and the provider is invited across federation.
    reaction = await w.ann.react(w.room_a, posted["event_id"], "✅")
    approved = ok(await w.ann.reply_to(w.room_a, bot, posted["event_id"]))
    assert "engagement" in approved["body"]
    engagement = approved["body"].split("engagement ")[1].split()[0]
    assert reaction
    room = await wait_invite(p1)
    await p1.accept_invite(room)
    await p1.read_history(room)
    intro = await p1.wait_event(
        room,
        bot,
        lambda s: ENGAGEMENT in s.get("content", {}),
        what="the introduction",
    )
    assert intro["content"][ENGAGEMENT]["id"] == engagement
    assert intro["content"]["m.mentions"]["user_ids"] == [p1.user_id]

    status = await ask_ok(w.ann, w.room_a, bot, f"!dsx status {req}")
    assert "engaged" in status["body"]
    closed = await ask_ok(w.ann, w.room_a, bot, f"!dsx close {engagement}")
    assert "purged" in closed["body"]
    reviewed = await ask_ok(
        w.ann,
        w.room_a,
        bot,
        f"!dsx review {engagement} conduct=5 contract=5 communication=4",
    )
    assert "satisfactory" in reviewed["body"]


async def wait_invite(member: Member, timeout: float = 60.0) -> str:
    rooms: list[str] = []

    def invited() -> bool:
        rooms[:] = list(member.client.invited_rooms)
        return bool(rooms)

    await member.sync_until(invited, timeout, "an invite")
    return rooms[0]
