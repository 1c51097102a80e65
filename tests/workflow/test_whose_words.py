"""Whose words count (docs/security.md), on a real Synapse with real E2EE: a plaintext
command or vote changes nothing; a state change counts only from a cross-signed device
(the default policy); a changed identity counts again only after staff confirm it; under
tofu a member's new device is announced."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import sqlalchemy as sa

from coordinator.store.schema import audit_log, members, proposals, requests
from tests.workflow.harness import (
    PROPOSAL,
    REPLY,
    Coordinator,
    Member,
    PartnerSpec,
    join_bot,
    make_config,
    start_coordinator,
)

pytestmark = pytest.mark.synapse


@dataclass
class Room:
    coordinator: Coordinator
    ann: Member  # listed member of alpha, device cross-signed
    staff: Member
    room_a: str
    room_s: str
    provider: Member
    root: Path
    closing: list[Member]

    @property
    def bot(self) -> str:
        return self.coordinator.bot

    @property
    def engine(self) -> Any:
        return self.coordinator.running.coordinator.engine

    async def member(self, hs: Any, name: str, **kw: Any) -> Member:
        m = await Member.create(hs, self.root / "clients", name, **kw)
        self.closing.append(m)
        return m


async def _room(hs: Any, root: Path, policy: str) -> Room:
    closing: list[Member] = []

    async def member(name: str) -> Member:
        m = await Member.create(hs, root / "clients", name)
        closing.append(m)
        return m

    ann, staff, provider = await member("ann"), await member("staff"), await member("prov")
    room_a = await ann.create_encrypted_room(invite=[])
    room_s = await staff.create_encrypted_room(invite=[])
    password = secrets.token_urlsafe(12)
    bot_user = await hs.register(f"dsxbot-{secrets.token_hex(3)}", password)
    config = make_config(
        hs,
        bot_user.user_id,
        password,
        root / "data",
        [PartnerSpec("alpha", room_a, (ann.user_id,))],
        staff_room=room_s,
        staff_members=(staff.user_id,),
    )
    if policy != "default":
        config = dataclasses.replace(
            config, matrix=dataclasses.replace(config.matrix, device_policy=policy)
        )
    coordinator = await start_coordinator(config)
    for owner, room in ((ann, room_a), (staff, room_s)):
        await join_bot(owner, room, bot_user.user_id)
    return Room(coordinator, ann, staff, room_a, room_s, provider, root, closing)


async def _close(r: Room) -> None:
    await r.coordinator.shutdown()
    for m in r.closing:
        await m.close()


@pytest.fixture(scope="module")
async def world(homeserver, tmp_path_factory) -> AsyncIterator[Room]:
    """The default device policy (cross-signed), one partner room and the staff room."""
    r = await _room(homeserver, tmp_path_factory.mktemp("words"), "default")
    try:
        yield r
    finally:
        await _close(r)


# -- helpers ---------------------------------------------------------------------------


async def raw_put(member: Member, room: str, event_type: str, content: dict[str, Any]) -> str:
    """What anyone holding the member's access token can do: no device, no encryption."""
    txn = uuid.uuid4().hex
    url = f"{member.hs.base_url}/_matrix/client/v3/rooms/{quote(room)}/send/{event_type}/{txn}"
    headers = {"Authorization": f"Bearer {member.user.access_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.put(url, json=content, headers=headers) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return body["event_id"]


async def raw_event(member: Member, room: str, event_id: str) -> dict[str, Any]:
    """The event as the server stores it (encrypted or not)."""
    url = f"{member.hs.base_url}/_matrix/client/v3/rooms/{quote(room)}/event/{quote(event_id)}"
    headers = {"Authorization": f"Bearer {member.user.access_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers) as resp:
            return await resp.json()


def replies_to(member: Member, room: str, bot: str, event_id: str) -> list[dict[str, Any]]:
    def is_reply(s: dict[str, Any]) -> bool:
        content = s.get("content", {})
        rel = content.get("m.relates_to") or {}
        return REPLY in content and (rel.get("m.in_reply_to") or {}).get("event_id") == event_id

    return [s for s in member.from_user(room, bot) if is_reply(s)]


async def audit_entries(r: Room, action: str) -> list[Any]:
    async with r.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq)
        )
        return list(rows)


async def count(r: Room, table: sa.Table, *where: Any) -> int:
    async with r.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        for clause in where:
            query = query.where(clause)
        return (await conn.execute(query)).scalar_one()


async def until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def code_of(reply: dict[str, Any]) -> str | None:
    error = reply[REPLY].get("error") or {}
    return error.get("code")


async def org_exists(r: Room, name: str) -> bool:
    """Whether alpha registered an organization of that name (its id is opaque: the bot
    finds it by opening the partner's sealed names, as a command naming it does)."""
    names = r.coordinator.running.delivery.names
    assert names is not None
    found = await names.resolve("alpha", name)
    return found != name and await count(r, members, members.c.id == found) > 0


# -- plaintext -------------------------------------------------------------------------


async def test_a_plaintext_command_changes_nothing_and_is_answered_once(world: Room):
    r, bot = world, world.bot
    before = await count(r, requests)
    body = "!dsx org add plaintext-org region=US-CA"
    first = await raw_put(r.ann, r.room_a, "m.room.message", {"msgtype": "m.text", "body": body})
    second = await raw_put(r.ann, r.room_a, "m.room.message", {"msgtype": "m.text", "body": body})
    # An encrypted command after both: once it is answered, both plaintexts were handled.
    marker = await r.ann.ask(r.room_a, bot, "!dsx status")
    assert marker[REPLY]["ok"]

    told = await r.ann.reply_to(r.room_a, bot, first)
    assert code_of(told) == "unencrypted_command"
    assert "Nothing was changed" in told["body"]
    assert replies_to(r.ann, r.room_a, bot, second) == []  # once per sender and room
    notice = next(s for s in r.ann.from_user(r.room_a, bot) if s["content"] is told)
    stored = await raw_event(r.ann, r.room_a, notice["event_id"])
    assert stored["type"] == "m.room.encrypted"  # the bot's answer is encrypted

    assert not await org_exists(r, "plaintext-org")
    assert await count(r, requests) == before
    entries = await audit_entries(r, "command.unencrypted")
    assert [(e.actor, e.subject) for e in entries][-2:] == [(r.ann.user_id, r.room_a)] * 2
    assert [e.data.get("told") for e in entries][-2:] == [True, False]
    assert "plaintext-org" not in json.dumps([list(map(str, e)) for e in entries])


async def _proposal(r: Room) -> tuple[str, str]:
    """An organization, a vouched provider and a request: the proposal in alpha's room."""
    core = r.coordinator.running.coordinator
    provider = r.provider.user_id
    if not await org_exists(r, "o1"):
        await core.add_provider(provider, ["forensics"], ["en"], ["US-CA"], capacity=1)
        await core.vouch("alpha", provider)
        await core.add_organization("o1", "alpha", region="US-CA", name="Canary Legal Aid")
        await core.vouch("alpha", "o1")
        for member_id in (provider, "o1"):
            await core.vet(member_id)
    filed = await r.ann.ask(r.room_a, r.bot, "!dsx request o1 skills=forensics langs=en")
    assert filed[REPLY]["ok"], filed["body"]
    request = filed["body"].split()[1]
    posted = await r.ann.wait_event(
        r.room_a,
        r.bot,
        lambda s: (
            (s.get("content", {}).get(PROPOSAL) or {}).get("request") == request
            and "m.new_content" not in s.get("content", {})
        ),
        what="the proposal",
    )
    return posted["event_id"], posted["content"][PROPOSAL]["id"]


async def approvals_of(r: Room, proposal: str) -> list[str]:
    async with r.engine.connect() as conn:
        query = sa.select(proposals.c.approvals).where(proposals.c.id == proposal)
        return list((await conn.execute(query)).scalar_one())


async def test_a_plaintext_vote_does_not_approve(world: Room):
    r, bot = world, world.bot
    event_id, proposal = await _proposal(r)
    vote = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": "✅"}}
    plain = await raw_put(r.ann, r.room_a, "m.reaction", vote)
    marker = await r.ann.ask(r.room_a, bot, "!dsx status")
    assert marker[REPLY]["ok"]
    assert await approvals_of(r, proposal) == []
    entries = await audit_entries(r, "command.unencrypted")
    assert entries[-1].data.get("kind") == "reaction" and entries[-1].actor == r.ann.user_id
    assert replies_to(r.ann, r.room_a, bot, plain) == []  # already told once in this room
    # The same vote, encrypted from the cross-signed device, counts. Synapse refuses a
    # second identical annotation, so the member takes the plaintext one back first.
    await r.ann.redact(r.room_a, plain)
    await r.ann.react(r.room_a, event_id, "✅")
    await until_approved(r, proposal)


async def until_approved(r: Room, proposal: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await approvals_of(r, proposal) != ["alpha"]:
        assert loop.time() < deadline, "the encrypted vote was not counted"
        await asyncio.sleep(0.2)


# -- devices ---------------------------------------------------------------------------


async def test_a_device_counts_only_once_cross_signed(world: Room):
    r, bot = world, world.bot
    trust = r.coordinator.running.bot.trust
    second = await r.ann.new_device(r.root / "clients")
    r.closing.append(second)
    await second.sync_until(
        lambda: bool(list(second.client.device_store.active_user_devices(bot))), 60, "bot keys"
    )
    refused_before = len(await audit_entries(r, "command.refused"))

    sent = await second.command(r.room_a, "!dsx org add second-device-org region=US-CA")
    reply = await r.ann.reply_to(r.room_a, bot, sent)  # read on the verified session
    assert code_of(reply) == "untrusted_device"
    assert "cross-sign" in reply["body"]
    assert not await org_exists(r, "second-device-org")
    refused = await audit_entries(r, "command.refused")
    assert len(refused) == refused_before + 1 and refused[-1].actor == r.ann.user_id
    assert refused[-1].data.get("code") == "untrusted_device"
    # Reading is answered from any device of a member.
    status = await second.command(r.room_a, "!dsx status")
    assert (await r.ann.reply_to(r.room_a, bot, status))[REPLY]["ok"]

    await second.cross_sign()  # signed with ann's self-signing key
    await until(
        lambda: second.user.device_id in trust.signed.get(r.ann.user_id, {}),
        what="the bot to see the new signature",
    )
    sent = await second.command(r.room_a, "!dsx org add second-device-org region=US-CA")
    reply = await r.ann.reply_to(r.room_a, bot, sent)
    assert reply[REPLY]["ok"], reply["body"]
    assert await org_exists(r, "second-device-org")


async def test_a_changed_identity_counts_again_only_after_staff_confirm(world: Room):
    r, bot = world, world.bot
    trust = r.coordinator.running.bot.trust
    announced = len(trust.announced)
    await r.ann.reset_identity()  # a new master key; this device signed with it
    await until(lambda: r.ann.user_id in trust.pending(), what="the identity change")
    await until(lambda: len(trust.announced) > announced, what="the announcement")
    refused_before = len(await audit_entries(r, "command.refused"))

    sent = await r.ann.command(r.room_a, "!dsx org add changed-identity-org region=US-CA")
    await until_refused(r, refused_before + 1)
    refused = (await audit_entries(r, "command.refused"))[-1]
    assert refused.actor == r.ann.user_id and refused.data.get("code") == "untrusted_device"
    assert not await org_exists(r, "changed-identity-org")
    # Ann's devices get no room keys meanwhile: the refusal is not readable there.
    await asyncio.sleep(1)
    assert replies_to(r.ann, r.room_a, bot, sent) == []

    # Staff confirm, from a cross-signed device in the staff room; audited.
    confirmed = await r.staff.ask(r.room_s, bot, f"!dsx identity confirm {r.ann.user_id}")
    assert confirmed[REPLY]["ok"], confirmed["body"]
    assert r.ann.user_id not in trust.pending()
    entries = await audit_entries(r, "identity.confirmed")
    assert entries[-1].actor == r.staff.user_id and entries[-1].subject == r.ann.user_id
    again = await r.staff.ask(r.room_s, bot, f"!dsx identity confirm {r.ann.user_id}")
    assert code_of(again) == "no_identity_change"

    reply = await r.ann.ask(r.room_a, bot, "!dsx org add changed-identity-org region=US-CA")
    assert reply[REPLY]["ok"], reply["body"]
    assert await org_exists(r, "changed-identity-org")


async def until_refused(r: Room, n: int, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(await audit_entries(r, "command.refused")) < n:
        assert loop.time() < deadline, "the refusal was not audited"
        await asyncio.sleep(0.2)


async def test_the_dashboard_confirms_a_changed_identity(world: Room):
    from aiohttp.test_utils import TestClient, TestServer
    from yarl import URL

    from coordinator.sealing import load_public_key
    from dsx.web.compose import build_web
    from dsx.web.settings import WebSettings
    from partner_bots.workflow.staff_actions import WorkflowStaffActions

    r = world
    running = r.coordinator.running
    trust = running.bot.trust
    await r.ann.reset_identity()
    await until(lambda: r.ann.user_id in trust.pending(), what="the identity change")

    config = running.config
    sealer = load_public_key(config.sealing.public_key_file)
    settings = WebSettings.from_config(config, secure_cookies=False)
    actions = WorkflowStaffActions(running.coordinator, running.sink.services)
    stack = build_web(running.coordinator, config, sealer, settings=settings, actions=actions)
    client = TestClient(TestServer(stack.app))
    await client.start_server()
    try:
        link = URL(await stack.auth.create_login_link(r.staff.user_id)).path
        page = await (await client.get(link)).text()
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        resp = await client.post(
            "/login",
            data={"csrf_token": csrf, "token": link.rsplit("/", 1)[1]},
            allow_redirects=False,
        )
        assert resp.status == 303
        listing = await (await client.get("/dashboard/identities")).text()
        assert r.ann.user_id in listing
        csrf = listing.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        done = await client.post(
            "/dashboard/actions/confirm-identity",
            data={"csrf_token": csrf, "user": r.ann.user_id},
        )
        assert done.status == 200, await done.text()
        nothing = await client.post(
            "/dashboard/actions/confirm-identity",
            data={"csrf_token": csrf, "user": r.ann.user_id},
        )
        assert nothing.status == 409  # nothing left to confirm
    finally:
        await client.close()
    assert r.ann.user_id not in trust.pending()
    entries = await audit_entries(r, "identity.confirmed")
    assert entries[-1].actor == r.staff.user_id and entries[-1].subject == r.ann.user_id
    reply = await r.ann.ask(r.room_a, r.bot, "!dsx org add dashboard-org region=US-CA")
    assert reply[REPLY]["ok"], reply["body"]


# -- tofu ------------------------------------------------------------------------------


async def test_under_tofu_a_new_device_is_announced(homeserver, tmp_path: Path):
    r = await _room(homeserver, tmp_path, "tofu")
    try:
        bot, trust = r.bot, r.coordinator.running.bot.trust
        # Known devices at first sight are the baseline: nothing announced for them.
        assert (await r.ann.ask(r.room_a, bot, "!dsx status"))[REPLY]["ok"]
        assert trust.devices_announced == []
        second = await r.ann.new_device(r.root / "clients")
        r.closing.append(second)

        def announced() -> list[dict[str, Any]]:
            return [
                s
                for s in r.ann.from_user(r.room_a, bot)
                if (s["content"].get("org.dsx.new_device") or {}).get("device_id")
                == second.user.device_id
            ]

        await r.ann.sync_until(lambda: bool(announced()), 60, "the new-device notice")
        assert r.ann.user_id in announced()[0]["content"]["body"]
        # Under tofu the new device counts (that is what the announcement is for).
        await second.sync_until(
            lambda: bool(list(second.client.device_store.active_user_devices(bot))), 60, "keys"
        )
        sent = await second.command(r.room_a, "!dsx org add tofu-org region=US-CA")
        assert (await r.ann.reply_to(r.room_a, bot, sent))[REPLY]["ok"]
        assert await org_exists(r, "tofu-org")
        assert [d for d, _, _ in trust.devices_announced] == [second.user.device_id]
    finally:
        await _close(r)
