"""`!dsx login` in the staff room, end to end on a real Synapse and the real service: the
link the bot sends (to the staff member's direct room) survives a restart of the
coordinator and works once, and the session it opens survives another restart until the
staff member signs out."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from yarl import URL

from coordinator.config import WebConfig
from coordinator.store import create_engine
from coordinator.store.schema import outbox, staff_grants
from partner_bots.workflow.login import PLACEHOLDER as LOGIN_PLACEHOLDER
from tests.harness.rawdb import sqlite_bytes
from tests.web.conftest import CSRF_RE
from tests.web.serving import _free_port, _running
from tests.web.test_login_direct import _invited_direct, _link_in, _record_invites
from tests.workflow.harness import Member, join_bot, make_config

pytestmark = pytest.mark.synapse

LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+/login/[A-Za-z0-9_-]+")


async def _status(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url, allow_redirects=False) as resp:
        return resp.status


async def test_login_link_and_session_survive_restarts(homeserver, tmp_path: Path):
    staff = await Member.create(homeserver, tmp_path / "clients", "staff")
    try:
        room = await staff.create_encrypted_room(invite=[])
        password = secrets.token_urlsafe(12)
        bot = await homeserver.register(f"dsxlogin-{secrets.token_hex(3)}", password)
        port = _free_port()
        base = make_config(
            homeserver,
            bot.user_id,
            password,
            tmp_path / "data",
            [],
            staff_room=room,
            staff_members=(staff.user_id,),
        )
        config = replace(base, web=WebConfig(port=port, public_url=f"http://127.0.0.1:{port}"))
        invites = _record_invites(staff)
        async with _running(config):
            await join_bot(staff, room, bot.user_id)
            reply = await staff.ask(room, bot.user_id, "!dsx login")
            assert not LINK_RE.search(reply["body"]), reply["body"]
            direct = await _invited_direct(staff, bot.user_id, invites, {room})
            link, token = await _link_in(staff, direct, bot.user_id, set())
        dashboard = f"http://127.0.0.1:{port}/dashboard"
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with _running(config):  # restart 1: the unused link still works, once
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
                assert await _status(http, dashboard) == 200
                assert await _status(http, link) == 410
            async with _running(config):  # restart 2: still signed in; sign out ends it
                async with http.get(dashboard) as page:
                    assert page.status == 200
                    csrf = CSRF_RE.search(await page.text())
                assert csrf is not None
                session = jar.filter_cookies(URL(dashboard))["dsx_session"].value
                async with http.post(
                    f"http://127.0.0.1:{port}/logout",
                    data={"csrf_token": csrf.group(1)},
                    allow_redirects=False,
                ) as out:
                    assert out.status == 303
                # Gone on the server, not only from the browser: the old cookie is refused.
                jar.update_cookies({"dsx_session": session}, URL(dashboard))
                assert await _status(http, dashboard) == 401
    finally:
        await staff.close()
    engine = create_engine(config.database_url)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.select(staff_grants.c.digest))).scalars().all()
        async with engine.connect() as conn:
            queued = (await conn.execute(sa.select(outbox.c.state, outbox.c.content))).all()
    finally:
        await engine.dispose()
    assert stored == []  # the link spent, the session ended: nothing left to use
    # The reply went out through the outbox, yet the row never held the link: it was
    # minted as the message was sent (partner_bots/workflow/login.py), and a sent row
    # keeps no content at all.
    assert any(r.state == "sent" for r in queued)
    assert all(r.content is None for r in queued if r.state == "sent")
    assert not any(LOGIN_PLACEHOLDER in json.dumps(r.content) for r in queued)
    assert not any(token in json.dumps(r.content) for r in queued)
    assert token.encode() not in await asyncio.to_thread(sqlite_bytes, config.database_url)
