"""`!dsx login` sends the link to the asking staff member's direct room, never into the
shared staff room (real Synapse, real E2EE, the real service and web app).

Another member of the staff room reads its whole timeline with their own client: no link
or token is ever in it. The staff member's client decrypts the link in a direct,
encrypted room the bot opened with ``is_direct``; a second login reuses that room, and a
login after the member left it opens a new one. The link works once on the web app, and
the outbox never held it.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from nio import InviteMemberEvent, SyncResponse

from coordinator.config import WebConfig
from coordinator.store import create_engine
from coordinator.store.schema import outbox, staff_direct_rooms
from partner_bots.workflow.login import LINK_KEY
from partner_bots.workflow.login import PLACEHOLDER as LOGIN_PLACEHOLDER
from tests.harness.rawdb import sqlite_bytes
from tests.web.conftest import CSRF_RE
from tests.web.serving import _free_port, _running
from tests.workflow.harness import REPLY, Member, join_bot, knows_devices, make_config

pytestmark = pytest.mark.synapse

LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+/login/([A-Za-z0-9_-]+)")


def _record_invites(member: Member) -> dict[str, list[Any]]:
    """Every invite ``member``'s syncs see (whichever wait consumed the sync)."""
    invites: dict[str, list[Any]] = {}
    request = member._sync_request

    async def recording(timeout_ms: int) -> Any:
        resp = await request(timeout_ms)
        if isinstance(resp, SyncResponse):
            for room_id, info in resp.rooms.invite.items():
                invites.setdefault(room_id, []).extend(info.invite_state)
        return resp

    member._sync_request = recording  # type: ignore[method-assign]
    return invites


async def _invited_direct(
    member: Member, bot: str, invites: dict[str, list[Any]], known: set[str]
) -> str:
    """The id of a new room ``bot`` invited ``member`` to as a direct chat; joins it."""
    await member.sync_until(lambda: bool(set(invites) - known), 60, "a direct-room invite")
    (room_id,) = set(invites) - known
    invite = [
        e
        for e in invites[room_id]
        if isinstance(e, InviteMemberEvent) and e.state_key == member.user_id
    ]
    assert invite and invite[0].sender == bot
    assert invite[0].content.get("is_direct") is True
    await member.accept_invite(room_id)
    return room_id


async def _link_in(member: Member, room: str, bot: str, seen: set[str]) -> tuple[str, str]:
    """The next link message the bot sent to ``room`` (decrypted), and its token."""
    event = await member.wait_event(
        room,
        bot,
        lambda s: LINK_KEY in s["content"] and s["event_id"] not in seen,
        what="the sign-in link in the direct room",
    )
    seen.add(event["event_id"])
    assert event["type"] == "m.room.message"  # decrypted by the member's own client
    found = LINK_RE.search(event["content"]["body"])
    assert found, event["content"]["body"]
    return found.group(0), found.group(1)


async def _sign_in_once(link: str, token: str, port: int) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(link) as page:
            assert page.status == 200
            csrf = CSRF_RE.search(await page.text())
        assert csrf is not None
        async with http.post(
            f"http://127.0.0.1:{port}/login",
            data={"csrf_token": csrf.group(1), "token": token},
            allow_redirects=False,
        ) as signed:
            assert signed.status == 303 and signed.headers["Location"] == "/dashboard"
        async with http.get(f"http://127.0.0.1:{port}/dashboard") as dashboard:
            assert dashboard.status == 200
        async with http.get(link, allow_redirects=False) as again:
            assert again.status == 410  # spent


def _everything(member: Member, room: str) -> str:
    return json.dumps([s for r, s in member.events if r == room])


async def test_the_link_goes_to_a_direct_room_only(homeserver, tmp_path: Path):
    staff = await Member.create(homeserver, tmp_path / "clients", "staff")
    other = await Member.create(homeserver, tmp_path / "clients", "other")
    try:
        room = await staff.create_encrypted_room(invite=[other.user_id])
        await other.accept_invite(room)
        password = secrets.token_urlsafe(12)
        bot = (await homeserver.register(f"dsxdm-{secrets.token_hex(3)}", password)).user_id
        port = _free_port()
        base = make_config(
            homeserver,
            bot,
            password,
            tmp_path / "data",
            [],
            staff_room=room,
            staff_members=(staff.user_id,),
        )
        config = replace(base, web=WebConfig(port=port, public_url=f"http://127.0.0.1:{port}"))
        tokens: list[str] = []
        seen: set[str] = set()
        invites = _record_invites(staff)
        async with _running(config):
            await join_bot(staff, room, bot)
            await knows_devices(other, bot)

            first = await staff.ask(room, bot, "!dsx login")
            assert first[REPLY]["ok"] and "sent you a sign-in link" in first["body"].lower()
            assert not LINK_RE.search(json.dumps(first))
            direct = await _invited_direct(staff, bot, invites, {room})
            link, token = await _link_in(staff, direct, bot, seen)
            tokens.append(token)
            await _sign_in_once(link, token, port)

            # Asked again: the same direct room, no new invite.
            second = await staff.ask(room, bot, "!dsx login")
            assert second[REPLY]["ok"]
            _, token = await _link_in(staff, direct, bot, seen)
            tokens.append(token)
            assert direct not in staff.client.invited_rooms

            # Left the direct room: the next link opens a new one.
            await staff.client.room_leave(direct)
            await staff.sync()
            third = await staff.ask(room, bot, "!dsx login")
            assert third[REPLY]["ok"]
            renewed = await _invited_direct(staff, bot, invites, {room, direct})
            assert renewed != direct
            _, token = await _link_in(staff, renewed, bot, seen)
            tokens.append(token)

            # The other staff-room member reads the whole staff room with their own client.
            await other.sync()
            await other.read_history(room, limit=200)
            replies = [s for s in other.from_user(room, bot) if REPLY in s["content"]]
            assert len(replies) >= 3  # they did decrypt the bot's answers
            shared = _everything(other, room) + _everything(staff, room)
            assert "/login/" not in shared
            assert not any(t in shared for t in tokens)
            assert other.undecrypted == [] or all(r != room for r, _ in other.undecrypted)
            assert direct not in other.client.rooms and renewed not in other.client.rooms
        async with _running(config):  # remembered in the database: reused after a restart
            again = await staff.ask(room, bot, "!dsx login")
            assert again[REPLY]["ok"]
            _, token = await _link_in(staff, renewed, bot, seen)
            tokens.append(token)
            assert set(invites) == {direct, renewed}
    finally:
        await staff.close()
        await other.close()
    engine = create_engine(config.database_url)
    try:
        async with engine.connect() as conn:
            queued = (await conn.execute(sa.select(outbox.c.state, outbox.c.content))).all()
            remembered = (await conn.execute(sa.select(staff_direct_rooms))).all()
    finally:
        await engine.dispose()
    assert [(r.staff, r.room_id) for r in remembered] == [(staff.user_id, renewed)]
    # The replies went out through the outbox, yet no row ever held a link: a row held the
    # placeholder until sent, and a sent row keeps no content at all.
    assert len([r for r in queued if r.state == "sent"]) >= 4
    assert all(r.content is None for r in queued if r.state == "sent")
    assert not any(LOGIN_PLACEHOLDER in json.dumps(r.content) for r in queued)
    assert not any(t in json.dumps(r.content) for r in queued for t in tokens)
    raw = await asyncio.to_thread(sqlite_bytes, config.database_url)
    assert not any(t.encode() in raw for t in tokens)
