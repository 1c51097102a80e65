"""API tokens: listed (never their secret) and revoked on the dashboard and with
`dsx tokens`, last use recorded, 7 days by default. On the real app over SQLite and
PostgreSQL: a revoked token gets 401 on its next request."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from coordinator import config as cfg
from coordinator.sealing import PublicSealer, generate_keypair
from coordinator.store.schema import audit_log, staff_grants
from coordinator.usecases import Coordinator
from dsx.cli.main import main
from dsx.web import WebSettings, build_web
from dsx.web.auth import StaffAuth
from tests.web.conftest import STAFF, Web, make_config

OTHER = "@other-staff:hs"
ID_RE = re.compile(r'name="token_id" value="([0-9a-f]+)"')


async def _web(db_url: str, tmp_path: Path, **web_config: object) -> AsyncIterator[Web]:
    """The app with two staff members (and ``[web]`` settings as given)."""
    base = make_config(tmp_path)
    config = dataclasses.replace(
        base,
        staff=dataclasses.replace(base.staff, members=(STAFF, OTHER)),
        web=dataclasses.replace(base.web, **web_config),
    )
    keys = generate_keypair()
    coord = await Coordinator.open(config, url=db_url, sealer=PublicSealer(keys.public))
    settings = WebSettings.from_config(config, secure_cookies=False)
    stack = build_web(coord, config, PublicSealer(keys.public), settings=settings)
    client = TestClient(TestServer(stack.app))
    await client.start_server()
    try:
        yield Web(client, coord, stack.auth, settings, keys, db_url)
    finally:
        await client.close()
        await coord.aclose()


@pytest.fixture
async def web2(db_url: str, tmp_path: Path) -> AsyncIterator[Web]:
    async for w in _web(db_url, tmp_path):
        yield w


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _create(web: Web, label: str) -> tuple[str, str]:
    """Create a token on the dashboard; returns (secret, id)."""
    csrf = await web.csrf("/dashboard/api-token")
    resp = await web.client.post("/dashboard/api-token", data={"csrf_token": csrf, "label": label})
    assert resp.status == 200
    page = await resp.text()
    secret = page.split('id="api-token">')[1].split("<")[0]
    (token_id,) = [t.token_id for t in await web.auth.api_tokens(STAFF) if t.label == label]
    assert token_id in page
    return secret, token_id


async def _revoke(web: Web, token_id: str) -> tuple[int, str]:
    csrf = await web.csrf("/dashboard/api-token")
    data = {"csrf_token": csrf, "token_id": token_id}
    asked = await web.client.post("/dashboard/api-token/revoke", data=data)
    if asked.status != 200:  # not the caller's: refused at the first step
        return asked.status, await asked.text()
    assert "Revoke this token" in await asked.text()  # a confirmation page; nothing yet
    resp = await web.client.post("/dashboard/api-token/revoke", data={**data, "confirm": "yes"})
    return resp.status, await resp.text()


async def _audit(web: Web, action: str) -> list[sa.Row]:
    async with web.coord.engine.connect() as conn:
        query = sa.select(audit_log).where(audit_log.c.action == action)
        return list((await conn.execute(query)).all())


async def test_tokens_are_listed_with_times_but_never_the_secret(web2: Web):
    web = web2
    await web.sign_in()
    secret, token_id = await _create(web, "nightly report")
    listing = await (await web.client.get("/dashboard/api-token")).text()
    assert secret not in listing  # shown once, at creation
    row = listing.split(f'<td data-label="Id" class="mono id">{token_id}</td>')[1].split("</tr>")[0]
    assert "nightly report" in row and row.count("UTC") == 2  # created, expires; never used
    (grant,) = await web.auth.api_tokens(STAFF)
    assert grant.created_at is not None and grant.last_used_at is None
    assert abs(grant.expires_at - grant.created_at - timedelta(days=7)) < timedelta(seconds=1)

    assert (await web.client.get("/api/requests", headers=_bearer(secret))).status == 200
    (used,) = await web.auth.api_tokens(STAFF)
    assert used.last_used_at is not None
    assert abs(used.last_used_at - datetime.now(UTC)) < timedelta(minutes=1)
    listing = await (await web.client.get("/dashboard/api-token")).text()
    row = listing.split(f'<td data-label="Id" class="mono id">{token_id}</td>')[1].split("</tr>")[0]
    assert row.count("UTC") == 3
    async with web.coord.engine.connect() as conn:
        stored = (await conn.execute(sa.select(staff_grants))).all()
    assert not any(secret in str(tuple(r)) for r in stored)


async def test_a_revoked_token_is_refused_at_once(web2: Web):
    web = web2
    await web.sign_in()
    secret, token_id = await _create(web, "script")
    kept, kept_id = await _create(web, "other script")
    assert (await web.client.get("/api/requests", headers=_bearer(secret))).status == 200
    status, page = await _revoke(web, token_id)
    assert status == 200 and f"Token {token_id} revoked." in page
    assert f'value="{token_id}"' not in page and f'value="{kept_id}"' in page
    assert (await web.client.get("/api/requests", headers=_bearer(secret))).status == 401
    assert (await web.client.get("/api/requests", headers=_bearer(kept))).status == 200
    (entry,) = await _audit(web, "api_token.revoked")
    assert entry.actor == STAFF and entry.subject == token_id
    assert secret not in str(tuple(entry))


async def test_revoking_needs_the_forms_csrf_token(web2: Web):
    web = web2
    await web.sign_in()
    secret, token_id = await _create(web, "script")
    for data in ({"token_id": token_id}, {"token_id": token_id, "csrf_token": "forged"}):
        resp = await web.client.post("/dashboard/api-token/revoke", data=data)
        assert resp.status == 403
    assert (await web.client.get("/api/requests", headers=_bearer(secret))).status == 200
    assert await _audit(web, "api_token.revoked") == []


async def test_another_staff_members_token_is_answered_as_unknown(web2: Web):
    web = web2
    theirs = await web.auth.issue_api_token(OTHER, "their tool")
    (their_grant,) = await web.auth.api_tokens(OTHER)
    await web.sign_in(STAFF)
    listing = await (await web.client.get("/dashboard/api-token")).text()
    assert their_grant.token_id not in listing and "their tool" not in listing
    status, page = await _revoke(web, their_grant.token_id or "")
    unknown_status, unknown_page = await _revoke(web, "0123456789ab")
    assert status == unknown_status == 404
    assert "No such token." in page and "No such token." in unknown_page
    assert page.replace(their_grant.token_id or "", "") == unknown_page.replace("0123456789ab", "")
    assert (await web.client.get("/api/requests", headers=_bearer(theirs))).status == 200
    refused = await _audit(web, "api_token.revoke_refused")
    assert [(e.actor, e.subject) for e in refused] == [
        (STAFF, their_grant.token_id),
        (STAFF, "0123456789ab"),
    ]


async def test_a_caller_without_a_staff_session_cannot_revoke(web2: Web):
    web = web2
    secret = await web.auth.issue_api_token(STAFF, "tool")
    (grant,) = await web.auth.api_tokens(STAFF)
    # No session at all, or only the API token itself: not a dashboard session.
    for headers in ({}, _bearer(secret)):
        resp = await web.client.post(
            "/dashboard/api-token/revoke",
            data={"token_id": grant.token_id or "", "csrf_token": "x"},
            headers=headers,
        )
        assert resp.status == 401
        listing = await web.client.get("/dashboard/api-token", headers=headers)
        assert listing.status == 401 and (grant.token_id or "") not in await listing.text()
    assert (await web.client.get("/api/requests", headers=_bearer(secret))).status == 200
    # Someone struck from the staff list: their token dies with the role.
    struck = StaffAuth(
        public_url="http://127.0.0.1:8080", staff_members=[OTHER], store=web.auth._store
    )
    assert await struck.api_staff(secret) is None


async def test_the_lifetime_is_configurable(db_url: str, tmp_path: Path):
    async for web in _web(db_url, tmp_path, api_token_days=2):
        await web.auth.issue_api_token(STAFF)
        (grant,) = await web.auth.api_tokens(STAFF)
        assert grant.created_at is not None
        assert abs(grant.expires_at - grant.created_at - timedelta(days=2)) < timedelta(seconds=1)
        await web.sign_in()
        assert "expires after 2 days" in await (await web.client.get("/dashboard/api-token")).text()
    with pytest.raises(cfg.ConfigError, match=r"web\.api_token_days"):
        cfg.parse({"web": {"api_token_days": 0}}, "<test>", env={})


async def test_dsx_tokens_lists_and_revokes(web2: Web, tmp_path: Path, capsys):
    web = web2
    mine = await web.auth.issue_api_token(STAFF, "cron job")
    theirs = await web.auth.issue_api_token(OTHER, "laptop")
    assert (await web.client.get("/api/requests", headers=_bearer(theirs))).status == 200
    (their_grant,) = await web.auth.api_tokens(OTHER)
    conf = tmp_path / "dsx.toml"
    conf.write_text(
        f'data_dir = "{tmp_path}"\n[database]\nurl = "{web.db_url}"\n'
        f'[staff]\nmembers = ["{STAFF}"]\n'
    )
    rc = await asyncio.to_thread(main, ["tokens", "list", "--config", str(conf)])
    out = capsys.readouterr().out
    assert rc == 0 and "2 live" in out
    assert mine not in out and theirs not in out
    line = next(x for x in out.splitlines() if x.startswith(their_grant.token_id or "?"))
    assert OTHER in line and "laptop" in line and line.count(":") >= 4  # times and owner
    assert line.split()[4] != "-"  # last used is recorded (a date), not "-"
    never = next(x for x in out.splitlines() if "cron job" in x)
    assert never.split()[4] == "-"

    rc = await asyncio.to_thread(
        main, ["tokens", "revoke", their_grant.token_id or "", "--config", str(conf)]
    )
    assert rc == 0 and f"revoked {their_grant.token_id}" in capsys.readouterr().out
    assert (await web.client.get("/api/requests", headers=_bearer(theirs))).status == 401
    assert (await web.client.get("/api/requests", headers=_bearer(mine))).status == 200
    (entry,) = await _audit(web, "api_token.revoked")
    assert entry.actor == "operator"

    rc = await asyncio.to_thread(main, ["tokens", "revoke", "ffffffffffff", "--config", str(conf)])
    err = capsys.readouterr().err
    assert rc == 1 and err.strip() == "dsx tokens: no such token: ffffffffffff"


async def test_dsx_tokens_revoke_without_the_audit_key_changes_nothing(
    web2: Web, tmp_path: Path, capsys
):
    """Revoking is audited, so without the audit key file nothing is revoked: one line."""
    web = web2
    theirs = await web.auth.issue_api_token(OTHER, "laptop")
    (their_grant,) = await web.auth.api_tokens(OTHER)
    elsewhere = tmp_path / "no-keys"
    elsewhere.mkdir()
    conf = tmp_path / "dsx.toml"
    conf.write_text(
        f'data_dir = "{elsewhere}"\n[database]\nurl = "{web.db_url}"\n'
        f'[staff]\nmembers = ["{STAFF}"]\n'
    )
    rc = await asyncio.to_thread(
        main, ["tokens", "revoke", their_grant.token_id or "", "--config", str(conf)]
    )
    captured = capsys.readouterr()
    assert rc == 2 and captured.out == ""
    assert captured.err.startswith("dsx tokens: audit key file ")
    assert len(captured.err.strip().splitlines()) == 1
    assert (await web.client.get("/api/requests", headers=_bearer(theirs))).status == 200
    assert await _audit(web, "api_token.revoked") == []


async def test_signing_out_can_revoke_all_own_tokens(web2: Web):
    web = web2
    await web.sign_in()
    first, _ = await _create(web, "one")
    second, _ = await _create(web, "two")
    theirs = await web.auth.issue_api_token(OTHER, "theirs")
    csrf = await web.csrf("/dashboard/api-token")
    # A plain sign-out leaves tokens alone ...
    out = await web.client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303
    assert (await web.client.get("/api/requests", headers=_bearer(first))).status == 200
    # ... the token page's "sign out and revoke" ends every one of the caller's, only theirs.
    await web.sign_in()
    csrf = await web.csrf("/dashboard/api-token")
    out = await web.client.post(
        "/logout", data={"csrf_token": csrf, "revoke_tokens": "1"}, allow_redirects=False
    )
    assert out.status == 303
    for token in (first, second):
        assert (await web.client.get("/api/requests", headers=_bearer(token))).status == 401
    assert (await web.client.get("/api/requests", headers=_bearer(theirs))).status == 200
    assert (await web.client.get("/dashboard")).status == 401
    assert len(await _audit(web, "api_token.revoked")) == 2
