"""Two bot accounts, one on each federated homeserver, each serving its own partner's room
("one or more bot accounts, each possibly on its own homeserver": docs/operator.md)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from coordinator.config import MatrixConfig
from tests.workflow.harness import (
    ENGAGEMENT,
    PICKLE_KEY,
    PROPOSAL,
    REPLY,
    Member,
    PartnerSpec,
    join_bot,
    make_config,
    proposal_of,
    start_coordinator,
)

pytestmark = pytest.mark.synapse


async def ask_ok(member: Member, room: str, bot: str, body: str) -> dict[str, Any]:
    reply = await member.ask(room, bot, body)
    assert reply[REPLY]["ok"], reply.get("body")
    return reply


async def membership(member: Member, room: str, user_id: str) -> str | None:
    resp = await member.client.room_get_state_event(room, "m.room.member", user_id)
    content = getattr(resp, "content", None) or {}
    return content.get("membership")


async def until_left(member: Member, room: str, user_id: str, timeout: float = 60.0) -> None:
    """Until ``user_id`` has left (declined) ``room``, as the room's state says."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await membership(member, room, user_id) != "leave":
        if loop.time() > deadline:
            raise TimeoutError(f"{user_id} did not decline the invite to {room}")
        await asyncio.sleep(0.3)


def not_membership(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in events if s.get("type") != "m.room.member"]


async def test_each_partner_is_served_by_its_own_account(federation, tmp_path):
    hs1, hs2 = federation
    closing: list[Member] = []

    async def member(hs, name: str) -> Member:
        m = await Member.create(hs, tmp_path / "clients", name)
        closing.append(m)
        return m

    ann, bea, staff, prov = (
        await member(hs1, "ann"),
        await member(hs2, "bea"),
        await member(hs1, "staff"),
        await member(hs2, "prov"),
    )
    room_a = await ann.create_encrypted_room(invite=[])  # alpha, on the first server
    room_b = await bea.create_encrypted_room(invite=[])  # beta, on the second server
    room_s = await staff.create_encrypted_room(invite=[])
    pw1, pw2 = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    bot1 = (await hs1.register(f"dsxone-{secrets.token_hex(3)}", pw1)).user_id
    bot2 = (await hs2.register(f"dsxtwo-{secrets.token_hex(3)}", pw2)).user_id
    second = MatrixConfig(
        homeserver_url=hs2.base_url,
        user_id=bot2,
        password=pw2,
        device_id="DSXSECOND",
        store_path=str(tmp_path / "data" / "nio-store-2"),
        pickle_key=PICKLE_KEY,
    )
    config = make_config(
        hs1,
        bot1,
        pw1,
        tmp_path / "data",
        [
            PartnerSpec("alpha", room_a, (ann.user_id,)),
            PartnerSpec("beta", room_b, (bea.user_id,), account=bot2),
        ],
        staff_room=room_s,
        staff_members=(staff.user_id,),
        accounts=(second,),
    )
    coordinator = await start_coordinator(config)
    try:
        running = coordinator.running
        assert running.bot.session.user_id == bot1  # the primary stays ``Running.bot``
        assert [b.session.user_id for b in running.bots] == [bot1, bot2]
        assert running.bots[1].session.account.store_path != running.bot.session.account.store_path
        await join_bot(ann, room_a, bot1)
        await join_bot(bea, room_b, bot2)
        await join_bot(staff, room_s, bot1)

        # Invited into the other account's room, each account declines.
        await bea.client.room_invite(room_b, bot1)
        await ann.client.room_invite(room_a, bot2)
        await until_left(bea, room_b, bot1)
        await until_left(ann, room_a, bot2)
        assert room_b in running.bots[0].rooms.declined
        assert room_a in running.bots[1].rooms.declined

        # Commands are answered by the room's own account.
        assert "request" in (await ask_ok(ann, room_a, bot1, "!dsx help"))["body"]
        assert "request" in (await ask_ok(bea, room_b, bot2, "!dsx help"))["body"]
        assert (await ask_ok(staff, room_s, bot1, "!dsx help"))[REPLY]["ok"]

        # Seed a case whose provider only beta vouched for: a two-partner proposal.
        p3 = prov.user_id
        for body in (
            "!dsx org add clinic region=US-CA",
            "!dsx vouch clinic",
            "!dsx vet clinic",
            f"!dsx provider add {p3} skills=forensics langs=en regions=US-CA capacity=1",
            f"!dsx vouch {p3}",
            f"!dsx vet {p3}",
        ):
            await ask_ok(bea, room_b, bot2, body)
        for body in (
            "!dsx org add tenants region=US-CA areas=housing",
            "!dsx vouch tenants",
            "!dsx vet tenants",
            "!dsx org add legal-aid region=US-CA areas=immigration",
            "!dsx org ref legal-aid from=tenants",
        ):
            await ask_ok(ann, room_a, bot1, body)
        # clinic is beta's organization: only beta records references in its name.
        await ask_ok(bea, room_b, bot2, "!dsx org ref legal-aid from=clinic")
        vetted = await ask_ok(ann, room_a, bot1, "!dsx vet legal-aid")
        assert "is accepted" in vetted["body"], vetted["body"]

        filed = await ask_ok(ann, room_a, bot1, "!dsx request legal-aid skills=forensics")
        req = filed["body"].split()[1]

        def proposal_for(s: dict[str, Any]) -> bool:
            return (proposal_of(s) or {}).get("request") == req and "m.new_content" not in s.get(
                "content", {}
            )

        mine = await ann.wait_event(room_a, bot1, proposal_for, what="alpha's proposal")
        theirs = await bea.wait_event(room_b, bot2, proposal_for, what="beta's proposal")
        block = mine["content"][PROPOSAL]
        assert block["provider"] == p3 and block["approvals_needed"] == ["alpha", "beta"]
        assert theirs["content"][PROPOSAL]["id"] == block["id"]
        assert "legal-aid" not in str(theirs["content"])  # need to know, across accounts too

        await ask_ok(ann, room_a, bot1, f"!dsx approve {block['id']}")
        done = await ask_ok(bea, room_b, bot2, f"!dsx approve {block['id']}")
        assert "engagement" in done["body"]
        engagement = done["body"].split("engagement ")[1].split()[0].rstrip(".")

        # The engagement room is opened by the account serving the routing partner (alpha).
        assert running.accounts is not None
        assert await running.accounts.account_of(f"engagement:{engagement}") == bot1
        rooms: list[str] = []

        def invited() -> bool:
            rooms[:] = list(prov.client.invited_rooms)
            return bool(rooms)

        await prov.sync_until(invited, 60, "the engagement invite")
        assert prov.client.invited_rooms[rooms[0]].inviter == bot1
        await prov.accept_invite(rooms[0])
        await prov.read_history(rooms[0])
        intro = await prov.wait_event(
            rooms[0], bot1, lambda s: ENGAGEMENT in s.get("content", {}), what="the introduction"
        )
        assert intro["content"][ENGAGEMENT]["id"] == engagement

        # Nothing from the other account in either partner room (its declined invite aside).
        await ann.sync()
        await bea.sync()
        assert not_membership(ann.from_user(room_a, bot2)) == []
        assert not_membership(bea.from_user(room_b, bot1)) == []
        assert len(ann.from_user(room_a, bot1)) > 10 and len(bea.from_user(room_b, bot2)) > 5
    finally:
        await coordinator.shutdown()
        for m in closing:
            await m.close()
    # Graceful shutdown stopped both accounts' sync loops.
    assert all(b.sync.stopping and b._task is not None and b._task.done() for b in running.bots)
