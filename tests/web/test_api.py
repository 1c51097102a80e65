"""The staff JSON API: token auth, the views as JSON, and a schemathesis run against the
OpenAPI document on a live server."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from dsx.web.app import bound_port, start_site
from dsx.web.openapi import document
from dsx.web.ratelimit import DEFAULT_LIMITS, Limit, Scope
from tests.harness.components import require
from tests.web.conftest import STAFF, make_web, seed

ENDPOINTS = [
    "/api/requests",
    "/api/proposals",
    "/api/engagements",
    "/api/vetting",
    "/api/members",
    "/api/members/alpha",
    "/api/audit",
    "/api/retention",
    "/api/stats",
]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_every_api_route_is_documented(web):
    doc = await (await web.client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    routes = {
        r.resource.canonical
        for r in web.client.server.app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/")
    }
    assert routes - {"/api/openapi.json"} == set(doc["paths"])
    assert doc == document()


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_api_needs_a_token(web, path):
    for headers in ({}, _bearer("made-up"), {"Authorization": "Basic eDp5"}):
        resp = await web.client.get(path, headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["error"]["code"] == "unauthorized"
    # A browser session is not an API token.
    await web.sign_in()
    assert (await web.client.get(path)).status == 401


async def test_api_views_match_the_dashboard(web_both):
    web = web_both
    ids = await seed(web.coord)
    headers = _bearer(await web.auth.issue_api_token(STAFF))
    body = {}
    for path in ENDPOINTS:
        resp = await web.client.get(path, headers=headers)
        assert resp.status == 200, path
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
        body[path] = await resp.json()
    overdue = [r for r in body["/api/requests"]["requests"] if r["id"] == ids["overdue_request"]]
    assert overdue[0]["overdue"] is True and overdue[0]["urgency"] == "critical"
    proposal = body["/api/proposals"]["proposals"][0]
    assert proposal["id"] == ids["proposal"] and proposal["waiting_for"] == ["alpha"]
    assert [e["id"] for e in body["/api/engagements"]["engagements"]] == [ids["engagement"]]
    applicants = {a["id"]: a for a in body["/api/vetting"]["applicants"]}
    assert applicants["@p3:hs"]["decision"]["eligible"] is False
    assert body["/api/audit"]["chain"]["intact"] is True
    member = await (await web.client.get("/api/members/@p1:hs", headers=headers)).json()
    assert {"author": "alpha", "target": "@p1:hs", "kind": "vouch", "on_path": True} in member[
        "neighbourhood"
    ]["edges"]
    missing = await web.client.get("/api/members/nobody", headers=headers)
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "unknown_member"
    for limit in ("0", "201", "501", "x", "-1"):
        bad = await web.client.get(f"/api/audit?limit={limit}", headers=headers)
        assert bad.status == 400
    two = await (await web.client.get("/api/audit?limit=2", headers=headers)).json()
    assert len(two["entries"]) == 2
    for text in map(str, body.values()):
        assert "Canary" not in text and "canary@" not in text


def _schemathesis() -> str | None:
    here = Path(sys.executable).parent / "st"
    return str(here) if here.exists() else shutil.which("st")


async def test_schemathesis_fuzzes_the_api(sqlite_url, tmp_path):
    # One client sending thousands of requests: above the API's rate limit on purpose.
    limits = {**DEFAULT_LIMITS, Scope.API: Limit(100_000, 60)}
    async for web in make_web(sqlite_url, tmp_path, limits=limits):
        await _fuzz(web, tmp_path)


async def _fuzz(web, tmp_path) -> None:
    st = _schemathesis()
    require(st is not None, "schemathesis is not installed (pip install -e '.[test]')")
    await seed(web.coord)
    token = await web.auth.issue_api_token(STAFF)
    # A real member for the path parameter, so the member view is reached, not only 404s.
    await asyncio.to_thread(
        (tmp_path / "schemathesis.toml").write_text,
        '[[operations]]\ninclude-path = "/api/members/{member_id}"\n'
        'parameters = { member_id = "@p1:hs" }\n'
        # A page cursor is opaque and signed: any other value is a 400 by design
        # (tests/web/test_find_and_sort.py); here every list starts at its first page.
        '[[operations]]\ninclude-path-regex = "^/api/(requests|proposals|engagements|vetting'
        '|members|audit)$"\nparameters = { after = "" }\n',
    )
    runner = await start_site(web.client.server.app, "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{bound_port(runner)}"
        proc = await asyncio.create_subprocess_exec(
            st,
            "run",
            f"{base}/api/openapi.json",
            "--url",
            base,
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--seed",
            "7",
            "--generation-database",
            "none",
            "--no-color",
            "--workers",
            "1",
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=150)
    finally:
        await runner.cleanup()
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    assert "Missing test data" not in report, report[-3000:]
    assert "Tested: 10" in report, report[-3000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts and int(counts.group(1)) >= 50 and counts.group(1) == counts.group(2), report
