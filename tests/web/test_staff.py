"""Staff sign-in through one-time links, sessions, CSRF, and every dashboard page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from yarl import URL

from coordinator import audit
from coordinator.store.schema import audit_log, outbox, requests
from dsx.web import svg
from dsx.web.auth import NotStaff, StaffAuth
from dsx.web.queries import Edge, Neighbourhood
from tests.web.conftest import STAFF, make_web, seed

PAGES = [
    "/dashboard",
    "/dashboard/proposals",
    "/dashboard/engagements",
    "/dashboard/vetting",
    "/dashboard/members",
    "/dashboard/members/alpha",
    "/dashboard/audit",
    "/dashboard/retention",
    "/dashboard/stats",
    "/dashboard/api-token",
]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _auth(clock: Clock) -> StaffAuth:
    return StaffAuth(
        public_url="https://dsx.example/",
        staff_members=[STAFF],
        session_minutes=60,
        login_link_minutes=10,
        clock=clock,
    )


def _token(link: str) -> str:
    return URL(link).path.rsplit("/", 1)[1]


async def test_login_link_is_single_use_short_lived_and_staff_only():
    clock = Clock()
    auth = _auth(clock)
    link = await auth.create_login_link(STAFF)
    assert link.startswith("https://dsx.example/login/")
    token = _token(link)
    session = await auth.redeem(token)
    assert token not in repr(vars(auth._store))  # only a hash is kept
    assert session and await auth.session_staff(session) == STAFF
    assert await auth.redeem(token) is None  # single use
    late = _token(await auth.create_login_link(STAFF))
    clock.now += timedelta(minutes=11)
    assert not await auth.link_is_live(late) and await auth.redeem(late) is None
    with pytest.raises(NotStaff):
        await auth.create_login_link("@mallory:hs")


async def test_sessions_expire_and_end():
    clock = Clock()
    auth = _auth(clock)
    session = await auth.redeem(_token(await auth.create_login_link(STAFF)))
    clock.now += timedelta(minutes=59)
    assert await auth.session_staff(session) == STAFF
    clock.now += timedelta(minutes=2)
    assert await auth.session_staff(session) is None
    other = await auth.redeem(_token(await auth.create_login_link(STAFF)))
    await auth.end_session(other)
    assert await auth.session_staff(other) is None
    assert await auth.session_staff(None) is None and await auth.session_staff("made-up") is None


async def test_api_tokens_are_not_sessions():
    auth = _auth(Clock())
    token = await auth.issue_api_token(STAFF)
    assert await auth.api_staff(token) == STAFF
    assert await auth.session_staff(token) is None
    session = await auth.redeem(_token(await auth.create_login_link(STAFF)))
    assert await auth.api_staff(session) is None


@pytest.mark.parametrize("path", PAGES)
async def test_dashboard_needs_a_session(web, path):
    resp = await web.client.get(path)
    assert resp.status == 401
    assert "!dsx login" in await resp.text()


async def test_sign_in_sets_a_strict_cookie_and_link_dies(web):
    link = await web.auth.create_login_link(STAFF)
    path = URL(link).path
    page = await web.client.get(path)
    assert page.status == 200 and 'id="sign-in"' in await page.text()
    assert await web.auth.link_is_live(_token(link))  # opening the page does not burn the link
    token = await web.csrf(path)
    no_csrf = await web.client.post("/login", data={"token": _token(link)})
    assert no_csrf.status == 403
    resp = await web.client.post(
        "/login", data={"csrf_token": token, "token": _token(link)}, allow_redirects=False
    )
    assert resp.status == 303
    cookie = resp.headers["Set-Cookie"]
    assert "dsx_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Max-Age=3600" in cookie
    assert (await web.client.get("/dashboard")).status == 200
    again = await web.client.get(path)
    assert again.status == 410


async def test_cookies_are_secure_when_configured(sqlite_url, tmp_path):
    async for w in make_web(sqlite_url, tmp_path, secure_cookies=True):
        resp = await w.client.get("/request")
        assert "Secure" in resp.headers["Set-Cookie"]


async def test_sign_out_needs_csrf_and_ends_the_session(web):
    await web.sign_in()
    refused = await web.client.post("/logout", data={"csrf_token": "nope"})
    assert refused.status == 403
    assert (await web.client.get("/dashboard")).status == 200
    token = await web.csrf("/dashboard")
    resp = await web.client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303
    assert (await web.client.get("/dashboard")).status == 401


async def test_dashboard_pages_show_routing(web_both):
    web = web_both
    ids = await seed(web.coord)
    await web.sign_in()
    pages = {}
    for path in PAGES:
        resp = await web.client.get(path)
        assert resp.status == 200, path
        pages[path] = await resp.text()
    requests_page = pages["/dashboard"]
    assert ids["overdue_request"] in requests_page and ids["pending_request"] in requests_page
    row = requests_page.split(f'data-request="{ids["overdue_request"]}"')[1].split("</tr>")[0]
    assert 'class="overdue"' in row
    pending = requests_page.split(f'data-request="{ids["pending_request"]}"')[1].split("</tr>")[0]
    assert "left" in pending and "overdue" not in pending
    proposal_row = pages["/dashboard/proposals"].split(f'data-proposal="{ids["proposal"]}"')[1]
    assert 'class="waiting">alpha<' in proposal_row.split("</tr>")[0]
    assert ids["engagement"] in pages["/dashboard/engagements"]
    assert 'data-member="@p3:hs"' in pages["/dashboard/vetting"]
    assert "Chain intact" in pages["/dashboard/audit"]
    assert "requests-by-state" in pages["/dashboard/stats"]
    for text in pages.values():
        assert "Canary" not in text and "canary@" not in text  # sealed data never shown
    # The page's own content: the menu's random CSRF token once happened to contain "o1".
    stats = pages["/dashboard/stats"].split("<main>", 1)[1].split("</main>", 1)[0]
    assert ids["overdue_request"] not in stats and "@p1:hs" not in stats and "o1" not in stats


async def test_member_page_draws_the_vouching_path(web):
    await seed(web.coord)
    await web.sign_in()
    page = await (await web.client.get("/dashboard/members/@p1:hs")).text()
    assert "<svg" in page and "<script" not in page
    assert 'class="edge path" data-from="alpha" data-to="@p1:hs"' in page
    assert 'class="node focus on-path" data-member="@p1:hs"' in page
    assert 'data-member="alpha"' in page
    assert '<span data-count="accepted">0</span> accepted' in page  # nobody hangs on @p1
    partner = await (await web.client.get("/dashboard/members/alpha")).text()
    assert '<span data-count="accepted">2</span> accepted' in partner  # @p1:hs and o1
    missing = await web.client.get("/dashboard/members/nobody")
    assert missing.status == 404


def test_svg_escapes_ids_and_highlights_only_path_edges():
    evil = '<script>"x"</script>'
    hood = Neighbourhood(
        center="m",
        nodes=("m", "alpha", evil),
        distance={"m": 0, "alpha": 1, evil: 1},
        edges=(Edge("alpha", "m", "vouch"), Edge(evil, "m", "reference")),
        seeds=frozenset({"alpha"}),
    )
    out = svg.render(hood, [("alpha", "m")])
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert out.count('class="edge path"') == 1 and 'stroke-dasharray="4 3"' in out
    assert 'class="node seed on-path" data-member="alpha"' in out


async def test_audit_page_reports_a_broken_chain(web):
    await seed(web.coord)
    await web.sign_in()
    async with web.coord.engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(actor="@x:hs"))
    page = await (await web.client.get("/dashboard/audit")).text()
    assert "Chain broken" in page and "entry 2" in page


async def test_staff_actions_use_the_core_use_cases_with_audit(web):
    ids = await seed(web.coord)
    await web.sign_in()
    token = await web.csrf("/dashboard")
    forged = await web.client.post(
        "/dashboard/actions/refuse",
        data={"csrf_token": "x", "request": ids["overdue_request"], "reason": "hate_agenda"},
    )
    assert forged.status == 403
    resp = await web.client.post(
        "/dashboard/actions/refuse",
        data={
            "csrf_token": token,
            "request": ids["overdue_request"],
            "reason": "hate_agenda",
            "confirm": "yes",
        },
    )
    assert resp.status == 200 and "Done: refuse" in await resp.text()
    vet = await web.client.post(
        "/dashboard/actions/vet", data={"csrf_token": token, "member": "@p3:hs"}
    )
    assert vet.status == 200
    refused = await web.client.post(
        "/dashboard/actions/refuse",
        data={
            "csrf_token": token,
            "request": ids["overdue_request"],
            "reason": "duplicate",
            "confirm": "yes",
        },
    )
    assert refused.status == 409 and "illegal_transition" in await refused.text()
    async with web.coord.engine.connect() as conn:
        state = (
            await conn.execute(
                sa.select(requests.c.state).where(requests.c.id == ids["overdue_request"])
            )
        ).scalar_one()
        entries = (
            await conn.execute(
                sa.select(audit_log.c.action, audit_log.c.subject).where(audit_log.c.actor == STAFF)
            )
        ).all()
    assert state == "refused"
    assert ("request.refused", ids["overdue_request"]) in entries
    assert ("trust.vet", "@p3:hs") in entries
    assert await audit.verify(web.coord.engine, web.coord.audit_key) is None


async def test_removal_from_the_member_page_keeps_a_code_and_seals_the_reason(web):
    await seed(web.coord)
    await web.sign_in()
    page = await (await web.client.get("/dashboard/members/@p2:hs")).text()
    assert 'name="reason"' in page and 'class="danger"' in page
    token = await web.csrf("/dashboard")
    reason = "threatened an organization's staff in a private message"
    asked = await web.client.post(
        "/dashboard/actions/remove",
        data={"csrf_token": token, "member": "@p2:hs", "reason": reason},
    )
    page = await asked.text()
    assert asked.status == 200 and 'name="code"' in page and '<option value="conduct"' in page
    assert 'name="confirm" value="yes"' in page  # the free text is carried to the next step
    resp = await web.client.post(
        "/dashboard/actions/remove",
        data={
            "csrf_token": token,
            "member": "@p2:hs",
            "code": "conduct",
            "reason": reason,
            "confirm": "yes",
        },
    )
    assert resp.status == 200 and "Done: remove" in await resp.text()
    bad = await web.client.post(
        "/dashboard/actions/remove",
        data={"csrf_token": token, "member": "@p1:hs", "code": "Not A Code", "confirm": "yes"},
    )
    assert bad.status == 422 and "Choose a reason code from the list." in await bad.text()
    async with web.coord.engine.connect() as conn:
        entry = (
            await conn.execute(
                sa.select(audit_log).where(
                    audit_log.c.action == "member.removed", audit_log.c.subject == "@p2:hs"
                )
            )
        ).one()
        rows = [
            *(await conn.execute(sa.select(audit_log))).all(),
            *(await conn.execute(sa.select(outbox))).all(),
        ]
    dumped = " ".join(str(row) for row in rows)
    assert entry.actor == STAFF and entry.data.get("code") == "conduct"
    assert reason not in dumped  # sealed: neither the audit log nor a message row holds it
    held = await (await web.client.get("/dashboard/retention")).text()
    assert "why this member was removed" in held and "@p2:hs" in held  # kept, sealed


async def test_retention_queue_lists_held_intake(web):
    from tests.web.forms_data import SCHEMAS, full_form

    token = await web.csrf("/request")
    resp = await web.client.post(
        "/request", data=[("csrf_token", token), *full_form(SCHEMAS["request"])]
    )
    assert resp.status == 200
    await web.sign_in()
    page = await (await web.client.get("/dashboard/retention")).text()
    assert "intake submission" in page and "awaiting delivery" in page
    # Staff see why the details have not reached the room (the code, never the content).
    rows = await web.coord.outbox.claim("test", limit=10)
    details = next(r for r in rows if r.kind == "intake_details")
    await web.coord.outbox.mark_failed(details.id, "intake_no_private_key", 900)
    page = await (await web.client.get("/dashboard/retention")).text()
    assert "details not delivered yet: intake_no_private_key" in page
    await web.coord.outbox.mark_sent(details.id, "$delivered")
    page = await (await web.client.get("/dashboard/retention")).text()
    assert "details delivered to the partner room" in page


async def test_api_token_page_mints_a_token(web):
    await web.sign_in()
    token = await web.csrf("/dashboard/api-token")
    page = await (await web.client.post("/dashboard/api-token", data={"csrf_token": token})).text()
    minted = page.split('id="api-token">')[1].split("<")[0]
    assert await web.auth.api_staff(minted) == STAFF


async def test_non_us_request_is_referred_from_the_dashboard(web):
    ids = await seed(web.coord)
    abroad = await web.coord.file_request("alpha", "o1", ["training"], region="MX")
    await web.sign_in()
    page = await (await web.client.get("/dashboard")).text()
    row = page.split(f'data-request="{abroad.request}"')[1].split("</tr>")[0]
    assert "Refer to the global partner" in row and '<td data-label="Region">MX</td>' in row
    us_row = page.split(f'data-request="{ids["pending_request"]}"')[1].split("</tr>")[0]
    assert "Refer" not in us_row
    token = await web.csrf("/dashboard")
    resp = await web.client.post(
        "/dashboard/actions/refer", data={"csrf_token": token, "request": abroad.request}
    )
    assert resp.status == 200 and "to: globe" in await resp.text()
    async with web.coord.engine.connect() as conn:
        entry = (
            await conn.execute(
                sa.select(audit_log).where(
                    audit_log.c.action == "request.referred",
                    audit_log.c.subject == abroad.request,
                )
            )
        ).one()
    assert entry.actor == STAFF and entry.data["to"] == "globe"
