"""Find and sort on the staff desk (docs/staff.md, "Find and sort"): filters, sorting,
keyset paging and search over 10,000 requests, through the real app, on SQLite and on
PostgreSQL; a forged page cursor, SQL-ish search text and callers without a staff
session or API token change nothing and learn nothing."""

from __future__ import annotations

import html
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from coordinator.listing import Cursors
from coordinator.store.schema import audit_log, members, requests, vouches
from dsx.web.lists import FORMS
from dsx.web.ratelimit import DEFAULT_LIMITS, Limit, Scope
from dsx.web.staff import SESSION_COOKIE
from tests.web.conftest import STAFF, Web, make_web, seed

N = 10_000
PARTNERS = ("alpha", "beta", "globe")
SKILLS = ("forensics", "training", "legal", "analysis")
LANGUAGES = ("en", "es", "fr", "es-MX")
REGIONS = (None, "US-CA", "US-NY", "MX", "DE")
STATES = ("open", "proposed", "unmatched", "engaged", "closed", "referred", "refused")
URGENCY = ("low", "normal", "high", "critical")
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Row:
    id: str
    partner: str
    organization: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    region: str | None
    urgency: int
    state: str
    filed_at: datetime


def _rows(n: int, seed: int, prefix: str = "r-") -> list[Row]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        partner = rnd.choice(PARTNERS)
        out.append(
            Row(
                id=f"{prefix}{i:05d}",
                partner=partner,
                organization=f"o-{partner}-{i % 97}",
                skills=tuple(sorted(rnd.sample(SKILLS, rnd.randint(1, 2)))),
                languages=tuple(sorted(rnd.sample(LANGUAGES, rnd.randint(1, 2)))),
                region=rnd.choice(REGIONS),
                urgency=rnd.randint(0, 3),
                state=rnd.choice(STATES),
                # Whole seconds, and some rows sharing a time: the id breaks the tie.
                filed_at=NOW - timedelta(minutes=rnd.randint(1, 60 * 24 * 60)),
            )
        )
    return out


async def _insert(web: Web, rows: list[Row]) -> None:
    """Straight into the table, in one statement: fast on both databases."""
    async with web.coord.engine.begin() as conn:
        await conn.execute(
            requests.insert(),
            [
                {
                    "id": r.id,
                    "organization": r.organization,
                    "partner": r.partner,
                    "skills": list(r.skills),
                    "languages": list(r.languages),
                    "region": r.region,
                    "urgency": r.urgency,
                    "state": r.state,
                    "filed_at": r.filed_at,
                }
                for r in rows
            ],
        )


@pytest.fixture
async def desk(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Web, list[Row], dict]]:
    # One client walking thousands of pages: above the API's rate limit on purpose.
    limits = {**DEFAULT_LIMITS, Scope.API: Limit(100_000, 60)}
    async for web in make_web(db_url, tmp_path, staff=(STAFF, "@other:hs"), limits=limits):
        rows = _rows(N, seed=7)
        await _insert(web, rows)
        headers = {"Authorization": f"Bearer {await web.auth.issue_api_token(STAFF)}"}
        yield web, rows, headers


async def _all_pages(web: Web, headers: dict, query: str) -> tuple[list[str], int]:
    """Every id the API lists for ``query``, following ``next``; and how many pages."""
    ids: list[str] = []
    cursor, pages = None, 0
    while True:
        params = parse_qs(query, keep_blank_values=True)
        if cursor:
            params["after"] = [cursor]
        resp = await web.client.get(
            "/api/requests", params=[(k, v) for k in params for v in params[k]], headers=headers
        )
        body = await resp.json()
        assert resp.status == 200, body
        ids += [r["id"] for r in body["requests"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            return ids, pages


def _key(sort: str):
    if sort == "urgency":
        return lambda r: (-r.urgency, r.filed_at, r.id), False
    return lambda r: (r.filed_at, r.id), sort == "-filed"


def _expected(rows: list[Row], sort: str, keep) -> list[str]:
    key, reverse = _key(sort)
    return [r.id for r in sorted(filter(keep, rows), key=key, reverse=reverse)]


OPEN = {"open", "proposed", "unmatched"}
CASES = [
    ("", lambda r: r.state in OPEN),
    ("state=all", lambda r: True),
    ("state=closed&state=referred", lambda r: r.state in {"closed", "referred"}),
    ("state=all&urgency=critical", lambda r: r.urgency == 3),
    ("partner=beta", lambda r: r.state in OPEN and r.partner == "beta"),
    ("state=all&skill=forensics", lambda r: "forensics" in r.skills),
    ("state=all&language=es", lambda r: "es" in r.languages),  # not es-MX
    ("state=all&region=US", lambda r: r.region is None or r.region.startswith("US-")),
    ("state=all&region=US-CA", lambda r: r.region == "US-CA"),
    ("state=all&older_than=30d", lambda r: r.filed_at <= NOW - timedelta(days=30)),
    ("state=all&newer_than=1w", lambda r: r.filed_at > NOW - timedelta(weeks=1)),
    ("state=all&owner=unowned", lambda r: True),
    ("state=all&q=o-globe-1", lambda r: r.organization.startswith("o-globe-1")),
    (
        "state=all&partner=alpha&urgency=high&urgency=critical&skill=training&region=MX",
        lambda r: (
            r.partner == "alpha" and r.urgency >= 2 and "training" in r.skills and r.region == "MX"
        ),
    ),
]


async def test_filters_sort_and_paging_match_the_rows_on_both_databases(desk):
    web, rows, headers = desk
    sorts = ("urgency", "filed", "-filed")
    for n, (query, keep) in enumerate(CASES):
        sort = sorts[n % 3]
        want = _expected(rows, sort, keep)
        assert want, query  # every case selects something
        if len(want) <= 1000:  # small enough to walk: every page
            got, pages = await _all_pages(web, headers, f"{query}&sort={sort}&limit=200")
            assert got == want, (query, sort, len(got), len(want))
            assert pages == max(1, -(-len(want) // 200)), (query, sort)
        else:  # the first page, and that there is a next one
            resp = await web.client.get(
                f"/api/requests?{query}&sort={sort}&limit=200", headers=headers
            )
            body = await resp.json()
            assert [r["id"] for r in body["requests"]] == want[:200], (query, sort)
            assert body["next"] is not None, query
    # The whole table in 50 pages of 200: each row exactly once, in order.
    got, pages = await _all_pages(web, headers, "state=all&sort=filed&limit=200")
    assert pages == 50 and got == _expected(rows, "filed", lambda r: True)


async def test_pages_neither_repeat_nor_skip_while_requests_arrive(desk):
    web, rows, headers = desk
    for n, sort in enumerate(("filed", "-filed", "urgency")):
        arriving = iter(_rows(600, seed=100 + n, prefix=f"n{n}-"))
        seen: list[str] = []
        cursor = None
        while True:
            params = {"state": "all", "partner": "alpha", "sort": sort, "limit": "200"}
            if cursor:
                params["after"] = cursor
            body = await (
                await web.client.get("/api/requests", params=params, headers=headers)
            ).json()
            seen += [r["id"] for r in body["requests"]]
            cursor = body["next"]
            if cursor is None:
                break
            # Between two page loads, 15 requests arrive, filed at any time in the range.
            await _insert(web, [next(arriving) for _ in range(15)])
        assert len(seen) == len(set(seen)), sort  # nothing repeated
        alpha = {r.id for r in rows if r.partner == "alpha"}
        assert alpha <= set(seen), sort  # nothing that was there is skipped
        assert all(i in alpha or i.startswith("n") for i in seen)  # only alpha's


async def test_page_50_costs_what_page_1_costs_without_offset(desk):
    web, _, headers = desk
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(web.coord.engine.sync_engine, "before_cursor_execute", record)
    try:
        cursor, page_50 = None, None
        for _ in range(49):
            params = {"state": "all", "sort": "filed", "limit": "20"}
            if cursor:
                params["after"] = cursor
            body = await (
                await web.client.get("/api/requests", params=params, headers=headers)
            ).json()
            cursor = body["next"]
        page_50 = {"state": "all", "sort": "filed", "limit": "20", "after": cursor}
        page_1 = {"state": "all", "sort": "filed", "limit": "20"}

        async def timed(params: dict) -> float:
            start = time.perf_counter()
            resp = await web.client.get("/api/requests", params=params, headers=headers)
            assert resp.status == 200
            return time.perf_counter() - start

        # Alternating, so both pages meet the same load on a shared machine; the fastest
        # of each is what the query costs, without the machine's noise.
        firsts, fiftieths = [], []
        for _ in range(9):
            firsts.append(await timed(page_1))
            fiftieths.append(await timed(page_50))
        first, fiftieth = min(firsts), min(fiftieths)
    finally:
        sa.event.remove(web.coord.engine.sync_engine, "before_cursor_execute", record)
    listing = [(s, p) for s, p in statements if "FROM requests" in s and "LIMIT" in s]
    assert len(listing) >= 49 + 14
    for statement, parameters in listing:
        # SQLite's dialect always writes "LIMIT ? OFFSET ?": the offset bound is 0.
        assert "OFFSET" not in statement or list(parameters)[-1] == 0, statement
    assert fiftieth < first * 3 + 0.05, (first, fiftieth)
    if web.db_url.startswith("sqlite"):
        # The sort key's index serves the order, for each sort: the very statements the
        # pages ran (past the first page), planned by SQLite, sort nothing.
        for sort, index in (
            ("filed", "ix_requests_filed_at_id"),
            ("-filed", "ix_requests_filed_at_id"),
            ("urgency", "ix_requests_urgency_filed_at_id"),
        ):
            statements.clear()
            sa.event.listen(web.coord.engine.sync_engine, "before_cursor_execute", record)
            try:
                params = {"state": "all", "sort": sort, "limit": "20"}
                body = await (
                    await web.client.get("/api/requests", params=params, headers=headers)
                ).json()
                params["after"] = body["next"]
                assert (
                    await web.client.get("/api/requests", params=params, headers=headers)
                ).status == 200
            finally:
                sa.event.remove(web.coord.engine.sync_engine, "before_cursor_execute", record)
            statement, parameters = [(s, p) for s, p in statements if "FROM requests" in s][-1]
            async with web.coord.engine.connect() as conn:
                plan = (
                    await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, tuple(parameters))
                ).all()
            text = " ".join(str(r[-1]) for r in plan)
            assert index in text and "TEMP B-TREE" not in text, (sort, text)


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _listed(page: str) -> list[str]:
    return re.findall(r'<tr data-request="([^"]+)"', page)


async def test_dashboard_carries_the_filter_in_the_url_and_names_bad_values(desk):
    web, rows, _ = desk
    await web.sign_in()
    url = "/dashboard?partner=beta&urgency=urgentish&older_than=forever&skill=Bad+Skill&sort=filed"
    resp = await web.client.get(url)
    page = await resp.text()
    assert resp.status == 200
    for name in ("urgency", "older_than", "skill"):
        assert f'data-field="{name}"' in page, name
    assert "urgency must be one of low, normal, high, critical" in _text(page)
    # The rest of the filter still applies: beta's open requests, oldest first.
    want = _expected(rows, "filed", lambda r: r.state in OPEN and r.partner == "beta")[:50]
    assert _listed(page) == want
    # The form shows what was asked, and the next page link keeps the understood filter.
    assert 'name="partner" value="beta"' in page
    nxt = html.unescape(re.search(r'href="([^"]+)" rel="next"', page).group(1))
    query = parse_qs(urlsplit(nxt).query)
    assert query["partner"] == ["beta"] and query["sort"] == ["filed"] and "after" in query
    assert "urgency" not in query  # the bad value is not carried on
    second = await (await web.client.get(nxt)).text()
    want_two = _expected(rows, "filed", lambda r: r.state in OPEN and r.partner == "beta")[50:100]
    assert _listed(second) == want_two
    assert 'rel="first"' in second
    # An unknown partner is said plainly.
    nobody = await (await web.client.get("/dashboard?partner=gamma")).text()
    assert "No partner called &#39;gamma&#39;." in nobody and _listed(nobody) == []
    # The API answers the same bad value with a 400 that names it.
    token = await web.auth.issue_api_token(STAFF)
    bad = await web.client.get(
        "/api/requests?urgency=urgentish", headers={"Authorization": f"Bearer {token}"}
    )
    body = await bad.json()
    assert bad.status == 400 and body["error"]["code"] == "invalid_filter"
    assert "urgency" in body["error"]["message"]


async def test_a_forged_cursor_is_a_400_that_reveals_nothing(desk):
    web, rows, headers = desk
    body = await (await web.client.get("/api/requests?state=all&limit=5", headers=headers)).json()
    cursor = body["next"]
    head, _, tail = cursor.partition(".")
    other = await (
        await web.client.get("/api/audit?limit=1", headers=headers)
    ).json()  # a genuine cursor, but of another list
    forged = [
        head[:-2] + ("AA" if head[-2:] != "AA" else "BB") + "." + tail,  # edited key
        head + "." + tail[::-1],  # edited signature
        "bm90IGEgY3Vyc29y",  # no signature at all
        "x" * 2000,
        "'; DROP TABLE requests; --",
    ]
    assert other["next"]
    forged.append(other["next"])
    # Well-formed, but signed with another deployment's secret.
    forged.append(Cursors(b"another secret").seal("requests", "urgency", [3, NOW, "r-00001"]))
    messages = set()
    for bad in forged:
        resp = await web.client.get(
            "/api/requests", params={"state": "all", "after": bad}, headers=headers
        )
        got = await resp.json()
        assert resp.status == 400 and got["error"]["code"] == "invalid_cursor", bad
        messages.add(got["error"]["message"])
        assert rows[0].id not in str(got) and "filed" not in got["error"]["message"]
    assert len(messages) == 1  # one answer whatever was changed
    # The same cursor with another sort is not a valid page of that sort either.
    resp = await web.client.get(
        "/api/requests", params={"state": "all", "sort": "-filed", "after": cursor}, headers=headers
    )
    assert resp.status == 400
    async with web.coord.engine.connect() as conn:
        total = await conn.scalar(sa.select(sa.func.count()).select_from(requests))
    assert total == N
    # On the dashboard: the first page, with the message, never an error page.
    await web.sign_in()
    resp = await web.client.get("/dashboard", params={"after": forged[0]})
    page = await resp.text()
    assert resp.status == 400 and 'data-field="after"' in page
    assert "This page link is not valid" in page and len(_listed(page)) == 50


async def test_sql_ish_search_matches_only_its_letters(desk):
    web, rows, headers = desk
    for text in ("' OR 1=1 --", "%", "_", "\\", "r-0001%'; DROP TABLE requests; --", '"', "*"):
        resp = await web.client.get(
            "/api/requests", params={"state": "all", "q": text}, headers=headers
        )
        assert resp.status == 200, text
        assert (await resp.json())["requests"] == [], text
    exact = rows[1234]
    found = await (
        await web.client.get(
            "/api/requests", params={"state": "all", "q": exact.id}, headers=headers
        )
    ).json()
    assert [r["id"] for r in found["requests"]] == [exact.id]
    upper = await (
        await web.client.get(
            "/api/requests", params={"state": "all", "q": exact.id.upper()}, headers=headers
        )
    ).json()
    assert [r["id"] for r in upper["requests"]] == [exact.id]  # case does not matter
    control = await web.client.get("/api/requests", params={"q": "r-\x00"}, headers=headers)
    assert control.status == 400
    async with web.coord.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(requests)) == N


async def test_without_staff_the_lists_answer_as_for_nothing(desk):
    web, rows, _ = desk
    # No session, or a made-up one: the same page whatever the filter names.
    answers = set()
    for path in (
        f"/dashboard?q={rows[0].id}",
        "/dashboard?q=no-such-request",
        "/dashboard/members?q=alpha",
        "/dashboard/audit?after=forged",
    ):
        for cookies in ({}, {SESSION_COOKIE: "made-up"}):
            web.client.session.cookie_jar.clear()
            web.client.session.cookie_jar.update_cookies(cookies)
            resp = await web.client.get(path)
            answers.add((resp.status, await resp.text()))
    assert len(answers) == 1 and next(iter(answers))[0] == 401
    # A secret of another kind (a session, a sign-in link) is not an API token: the same
    # 401 as a made-up token, whatever is asked.
    link = await web.auth.create_login_link(STAFF)
    session = await web.auth.redeem(link.rsplit("/", 1)[1])
    other_link = (await web.auth.create_login_link(STAFF)).rsplit("/", 1)[1]
    refused = set()
    for secret in ("made-up", session, other_link):
        for path in (f"/api/requests?q={rows[0].id}", "/api/requests?q=nothing", "/api/members"):
            resp = await web.client.get(path, headers={"Authorization": f"Bearer {secret}"})
            refused.add((resp.status, await resp.text()))
    assert len(refused) == 1 and next(iter(refused))[0] == 401


async def test_the_other_lists_filter_sort_and_page(web_both):
    web = web_both
    ids = await seed(web.coord)
    headers = {"Authorization": f"Bearer {await web.auth.issue_api_token(STAFF)}"}

    async def api(path: str, **params: str) -> dict:
        resp = await web.client.get(path, params=params, headers=headers)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    pending = await api("/api/proposals")
    assert [p["id"] for p in pending["proposals"]] == [ids["proposal"]]
    every = await api("/api/proposals", state="all", partner="alpha")
    assert len(every["proposals"]) == 2 and all(
        "alpha" in p["approvals_needed"] for p in every["proposals"]
    )
    assert (await api("/api/proposals", partner="beta"))["proposals"] == []
    engaged = await api("/api/engagements", partner="alpha", state="open")
    assert [e["id"] for e in engaged["engagements"]] == [ids["engagement"]]
    assert (await api("/api/engagements", q="no-such"))["engagements"] == []
    vetting = await api("/api/vetting", kind="provider")
    assert [a["id"] for a in vetting["applicants"]] == ["@p3:hs"]
    assert (await api("/api/vetting", kind="organization"))["applicants"] == []
    async with web.coord.engine.connect() as conn:
        active_providers = sorted(
            (
                await conn.execute(
                    sa.select(members.c.id).where(
                        members.c.kind == "provider", members.c.status != "applicant"
                    )
                )
            ).scalars()
        )
        vouched = await conn.scalar(
            sa.select(sa.func.count()).select_from(vouches).where(vouches.c.target == "@p1:hs")
        )
        vets = list(
            (
                await conn.execute(
                    sa.select(audit_log.c.seq)
                    .where(audit_log.c.action.like("trust.vet%"))
                    .order_by(audit_log.c.seq.desc())
                )
            ).scalars()
        )
    listed = await api("/api/members", kind="provider", status="pod", sort="id")
    listed_ids = [m["id"] for m in listed["members"]]
    listed_active = await api("/api/members", kind="provider", status="active", sort="id")
    assert sorted(listed_ids + [m["id"] for m in listed_active["members"]]) == active_providers
    one = await api("/api/members", q="@p1")
    assert [m["id"] for m in one["members"]] == ["@p1:hs"]
    assert one["members"][0]["vouches"] == vouched
    # The audit log, newest first, one entry a page, every vet once.
    seen, cursor = [], None
    while True:
        page = await api(
            "/api/audit", action="trust.vet", limit="1", **({"after": cursor} if cursor else {})
        )
        seen += [e["seq"] for e in page["entries"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == vets and len(vets) >= 3
    assert (await api("/api/audit", action="trust.vet", sort="seq"))["entries"][0]["seq"] == min(
        vets
    )
    # Age on the audit log (its times are text): everything here is from the last hour.
    recent = await api("/api/audit", newer_than="1h", limit="200")
    assert (
        len(recent["entries"]) == len((await api("/api/audit", limit="200"))["entries"])
        and recent["entries"]
    )
    assert (await api("/api/audit", older_than="1h"))["entries"] == []
    # The dashboard pages take the same filters.
    await web.sign_in()
    for path, marker in (
        (
            f"/dashboard/proposals?state=all&q={ids['proposal']}",
            f'data-proposal="{ids["proposal"]}"',
        ),
        ("/dashboard/engagements?partner=alpha", f'data-engagement="{ids["engagement"]}"'),
        ("/dashboard/vetting?kind=provider", 'data-member="@p3:hs"'),
        ("/dashboard/members?q=@p1", 'data-member="@p1:hs"'),
        ("/dashboard/audit?action=trust.vet", "trust.vet"),
    ):
        resp = await web.client.get(path)
        assert resp.status == 200 and marker in await resp.text(), path
    # The form shows the default filter it applies (pending proposals), not "any state".
    form = await (await web.client.get("/dashboard/proposals")).text()
    assert '<option value="pending" selected>' in form
    assert '<option value="all" selected>' not in form
    empty = await (await web.client.get("/dashboard/vetting?kind=organization")).text()
    assert 'data-member="@p3:hs"' not in empty


NASTY = ("", " ", "\x00", "' OR '1'='1", "%_\\", "é" * 300, "-1", "99999w", "all")


async def test_no_filter_value_breaks_a_list_page(web_both):
    """Whatever a URL carries, a list page answers 200 (a bad page link: 400), never 500."""
    web = web_both
    await seed(web.coord)
    await web.sign_in()
    for path, which in (
        ("/dashboard", "requests"),
        ("/dashboard/proposals", "proposals"),
        ("/dashboard/engagements", "engagements"),
        ("/dashboard/vetting", "vetting"),
        ("/dashboard/members", "members"),
        ("/dashboard/audit", "audit"),
    ):
        names = [name for name, *_ in FORMS[which]] + ["sort", "limit", "after"]
        for name in names:
            for value in NASTY:
                resp = await web.client.get(path, params={name: value})
                expected = (200, 400) if name == "after" else (200,)
                assert resp.status in expected, (path, name, value, resp.status)
