"""The dashboard and the API are staff's alone, and staff see every partner's cases
(docs/security.md, "Who may do what").

Every POST route of the app other than sign-in and the public forms is a staff action:
without a staff session (none, or a made-up cookie) each one is refused and changes
nothing. Sign-in links are minted only for listed staff, so no partner member can get a
session. A signed-in staff member acts on any partner's request, and the API lists them.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.store import schema
from dsx.web.staff import SESSION_COOKIE
from tests.web.conftest import STAFF, seed

PUBLIC_POSTS = {"/login", "/logout"}  # sign-in itself; /logout needs a session anyway


def post_routes(app) -> list[str]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "POST" and path:
            out.append(path)
    return sorted(set(out))


async def rows(c) -> dict[str, list[str]]:
    async with c.engine.connect() as conn:
        return {
            t.name: sorted(repr(tuple(r)) for r in await conn.execute(sa.select(t)))
            for t in (schema.members, schema.requests, schema.proposals, schema.vouches)
        }


async def test_every_staff_action_needs_a_staff_session(web):
    ids = await seed(web.coord)
    actions = [p for p in post_routes(web.client.app) if p.startswith("/dashboard")]
    assert {"/dashboard/actions/vet", "/dashboard/actions/remove"} <= set(actions), actions
    form = {
        "csrf_token": "x",
        "member": "@p1:hs",
        "request": ids["pending_request"],
        "reason": "hate_agenda",
        "code": "conduct",
    }
    before = await rows(web.coord)
    for path in actions:
        resp = await web.client.post(path, data=form)
        assert resp.status == 401, path
        web.client.session.cookie_jar.update_cookies({SESSION_COOKIE: "made-up"})
        resp = await web.client.post(path, data=form)
        assert resp.status == 401, path
        web.client.session.cookie_jar.clear()
    assert await rows(web.coord) == before


async def test_only_listed_staff_get_a_sign_in_link(web):
    for partner_member in ("@ann:hs", "@bob:hs", "@mallory:hs"):
        with pytest.raises(Exception):  # noqa: B017 - any refusal; no link is minted
            await web.auth.create_login_link(partner_member)
    assert await web.auth.create_login_link(STAFF)


async def test_staff_see_and_act_on_every_partners_cases(web):
    c = web.coord
    ids = await seed(c)
    await c.add_organization("o2", "beta", region="US-NY")
    await c.vouch("beta", "o2")
    await c.vet("o2")
    theirs = await c.file_request("beta", "o2", ["forensics"], region="MX")
    token = await web.auth.issue_api_token(STAFF)
    listed = await web.client.get("/api/requests", headers={"Authorization": f"Bearer {token}"})
    assert listed.status == 200
    shown = {r["id"] for r in (await listed.json())["requests"]}
    assert {ids["pending_request"], theirs.request} <= shown

    await web.sign_in()
    csrf = await web.csrf("/dashboard")
    resp = await web.client.post(
        "/dashboard/actions/refer", data={"csrf_token": csrf, "request": theirs.request}
    )
    assert resp.status == 200, await resp.text()
    async with c.engine.connect() as conn:
        state = (
            await conn.execute(
                sa.select(schema.requests.c.state).where(schema.requests.c.id == theirs.request)
            )
        ).scalar_one()
    assert state == "referred"
