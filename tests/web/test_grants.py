"""Sign-in secrets in the database: they survive a restart, a link works once even when
several processes race for it, expired grants are purged, and only digests are stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from yarl import URL

from coordinator.store import create_engine
from coordinator.store.schema import staff_grants
from dsx.web.auth import DatabaseSecretStore, Grant, SecretKind, StaffAuth, digest
from tests.web.conftest import STAFF, Web, make_web


async def sign_in_with_link(web: Web, link: str) -> str:
    """Open the link, press "Sign in"; returns the session cookie's value."""
    path = URL(link).path
    csrf = await web.csrf(path)
    resp = await web.client.post(
        "/login",
        data={"csrf_token": csrf, "token": path.rsplit("/", 1)[1]},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard"
    return resp.cookies["dsx_session"].value


async def test_link_and_session_survive_a_restart_and_sign_out_ends_it(db_url: str, tmp_path: Path):
    async for first in make_web(db_url, tmp_path):
        unused = await first.auth.create_login_link(STAFF)
        used = await first.auth.create_login_link(STAFF)
        session = await sign_in_with_link(first, used)
    async for second in make_web(db_url, tmp_path):
        # The session cookie from before the restart still opens the dashboard.
        second.client.session.cookie_jar.update_cookies({"dsx_session": session})
        page = await second.client.get("/dashboard")
        assert page.status == 200 and "<h1>Open requests</h1>" in await page.text()
        # The link issued before the restart works, once.
        await sign_in_with_link(second, unused)
        again = await second.client.get(URL(unused).path)
        assert again.status == 410
        # Signing out removes the session from the database, not just the cookie.
        token = await second.csrf("/dashboard")
        out = await second.client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
        assert out.status == 303
        async with second.coord.engine.connect() as conn:
            kinds = (await conn.execute(sa.select(staff_grants.c.kind))).scalars().all()
        assert kinds.count("session") == 1  # the pre-restart session is still there
    async for third in make_web(db_url, tmp_path):
        stale = third.client.session.cookie_jar
        stale.update_cookies({"dsx_session": session})
        assert (await third.client.get("/dashboard")).status == 200
        assert await third.auth.session_staff(session) == STAFF
        await third.auth.end_session(session)
        assert (await third.client.get("/dashboard")).status == 401


async def test_only_digests_are_stored(web_both: Web):
    web = web_both
    link = await web.auth.create_login_link(STAFF)
    token = URL(link).path.rsplit("/", 1)[1]
    api = await web.auth.issue_api_token(STAFF)
    async with web.coord.engine.connect() as conn:
        rows = (await conn.execute(sa.select(staff_grants))).all()
    assert {r.digest for r in rows} == {digest(token), digest(api)}
    assert {r.kind for r in rows} == {"login", "api"}
    for row in rows:
        assert token not in str(tuple(row)) and api not in str(tuple(row))


async def test_a_link_works_once_when_processes_race(db_url: str, tmp_path: Path):
    async for _migrated in make_web(db_url, tmp_path):
        engines = [create_engine(db_url) for _ in range(6)]
        try:
            # Six "processes": own engine (own connections), own StaffAuth, same database.
            auths = [
                StaffAuth(
                    public_url="http://127.0.0.1:8080",
                    staff_members=[STAFF],
                    store=DatabaseSecretStore(engine),
                )
                for engine in engines
            ]
            for _ in range(3):
                token = URL(await auths[0].create_login_link(STAFF)).path.rsplit("/", 1)[1]
                sessions = await asyncio.gather(*(a.redeem(token) for a in auths))
                winners = [s for s in sessions if s is not None]
                assert len(winners) == 1, sessions
                assert all([await a.session_staff(winners[0]) == STAFF for a in auths])
        finally:
            for engine in engines:
                await engine.dispose()


async def test_expired_grants_are_purged(web_both: Web):
    web = web_both
    store = DatabaseSecretStore(web.coord.engine)
    now = datetime.now(UTC)
    await store.put("a" * 64, Grant(SecretKind.SESSION, STAFF, now - timedelta(seconds=1)))
    await store.put("b" * 64, Grant(SecretKind.SESSION, STAFF, now + timedelta(hours=1)))
    # A non-UTC clock value compares as the same instant.
    east = now.astimezone(ZoneInfo("Asia/Tokyo"))
    assert await store.purge(east) == 1
    assert await store.get("a" * 64) is None
    kept = await store.get("b" * 64)
    assert kept is not None and abs(kept.expires_at - (now + timedelta(hours=1))) < timedelta(
        seconds=1
    )
    # Issuing a grant purges what expired before it.
    await store.put("c" * 64, Grant(SecretKind.LOGIN_LINK, STAFF, now - timedelta(minutes=1)))
    await web.auth.issue_api_token(STAFF)
    assert await store.get("c" * 64) is None
