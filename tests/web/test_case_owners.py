"""Owning a case (docs/staff.md, "Owning a case"): staff take a request or an applicant,
hand it over or release it, on the dashboard and the API; "mine" and "unowned" views;
every change and every refusal audited; on SQLite and PostgreSQL through the real app."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from coordinator import case_owners
from coordinator.store.schema import audit_log
from coordinator.store.schema import case_owners as owners_table
from coordinator.usecases.acting import Acting
from tests.web.conftest import CSRF_RE, STAFF, Web, make_web, seed

OTHER = "@other:hs"


@pytest.fixture
async def two(db_url: str, tmp_path: Path) -> AsyncIterator[Web]:
    async for web in make_web(db_url, tmp_path, staff=(STAFF, OTHER)):
        yield web


async def _audit(web: Web, prefix: str) -> list[tuple[str, str, str, dict]]:
    async with web.coord.engine.connect() as conn:
        found = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.subject, audit_log.c.data)
            .where(audit_log.c.action.like(prefix + "%"))
            .order_by(audit_log.c.seq)
        )
        return [(a, b, c, dict(d)) for a, b, c, d in found]


async def _owners(web: Web) -> list[tuple]:
    async with web.coord.engine.connect() as conn:
        found = await conn.execute(
            sa.select(owners_table.c.subject, owners_table.c.kind, owners_table.c.owner).order_by(
                owners_table.c.subject
            )
        )
        return [tuple(r) for r in found]


async def _post(web: Web, **form: str):
    page = await (await web.client.get("/dashboard")).text()
    token = CSRF_RE.search(page).group(1)
    return await web.client.post("/dashboard/actions/owner", data={"csrf_token": token, **form})


def _row(page: str, attr: str, ident: str) -> str:
    return page.split(f'{attr}="{ident}"')[1].split("</tr>")[0]


async def test_take_hand_over_and_release_on_the_dashboard(two):
    web = two
    ids = await seed(web.coord)
    request_id = ids["overdue_request"]
    await web.sign_in()
    resp = await _post(web, subject=request_id, change="take")
    assert resp.status == 200 and f"{request_id} is yours now." in html.unescape(await resp.text())
    assert await _owners(web) == [(request_id, "request", STAFF)]
    page = await (await web.client.get("/dashboard")).text()
    row = _row(page, "data-request", request_id)
    assert f'<span class="mono id owner">{STAFF}</span>' in row
    assert 'value="release"' in row and f'<option value="{OTHER}">' in row
    # "mine" lists it, "unowned" does not; the filter is in the URL.
    mine = await (await web.client.get("/dashboard?owner=mine")).text()
    assert f'data-request="{request_id}"' in mine and mine.count("<tr data-request=") == 1
    unowned = await (await web.client.get("/dashboard?owner=unowned")).text()
    assert f'data-request="{request_id}"' not in unowned
    assert f'data-request="{ids["pending_request"]}"' in unowned
    # An applicant too, on the vetting page.
    assert (await _post(web, subject="@p3:hs", change="take")).status == 200
    vetting = await (await web.client.get("/dashboard/vetting?owner=mine")).text()
    assert 'data-member="@p3:hs"' in vetting
    # Handed over: now the other staff member's, and no longer "mine".
    resp = await _post(web, subject=request_id, change="hand_over", to=OTHER)
    assert resp.status == 200
    assert (request_id, "request", OTHER) in await _owners(web)
    mine = await (await web.client.get("/dashboard?owner=mine")).text()
    assert f'data-request="{request_id}"' not in mine
    theirs = await (await web.client.get(f"/dashboard?owner={OTHER}")).text()
    assert f'data-request="{request_id}"' in theirs
    # Only its owner releases it: refused for me now, nothing changes.
    resp = await _post(web, subject=request_id, change="release")
    assert resp.status == 409 and "Only the owner" in await resp.text()
    assert (request_id, "request", OTHER) in await _owners(web)
    assert (await _post(web, subject="@p3:hs", change="release")).status == 200
    assert await _owners(web) == [(request_id, "request", OTHER)]
    assert [(a, b, c) for a, b, c, _ in await _audit(web, "desk.")] == [
        (STAFF, "desk.taken", request_id),
        (STAFF, "desk.taken", "@p3:hs"),
        (STAFF, "desk.handed_over", request_id),
        (STAFF, "desk.release_refused", request_id),
        (STAFF, "desk.released", "@p3:hs"),
    ]


async def test_the_api_takes_refuses_and_says_the_same_for_unknown_ids(two):
    web = two
    ids = await seed(web.coord)
    mine = {"Authorization": f"Bearer {await web.auth.issue_api_token(STAFF)}"}
    theirs = {"Authorization": f"Bearer {await web.auth.issue_api_token(OTHER)}"}
    request_id = ids["pending_request"]
    took = await web.client.post(
        "/api/owner", json={"subject": request_id, "change": "take"}, headers=mine
    )
    assert took.status == 200 and (await took.json())["owner"] == STAFF
    listed = await (await web.client.get("/api/requests?owner=mine", headers=mine)).json()
    assert [r["id"] for r in listed["requests"]] == [request_id]
    assert listed["requests"][0]["owner"] == STAFF
    assert (await (await web.client.get("/api/requests?owner=mine", headers=theirs)).json())[
        "requests"
    ] == []
    # Taking what another owns is refused; they hand it over.
    again = await web.client.post(
        "/api/owner", json={"subject": request_id, "change": "take"}, headers=theirs
    )
    body = await again.json()
    assert again.status == 409 and body["error"]["code"] == "owned_by_another"
    # A vetted member is not a case, and an unknown id: word for word the same answer
    # as for a request or member id that does not exist.
    for subject, known in (("r-nope", "request"), ("@p1:hs", "member"), ("@nobody:hs", "member")):
        resp = await web.client.post(
            "/api/owner", json={"subject": subject, "change": "take"}, headers=mine
        )
        got = await resp.json()
        assert resp.status == 409 and got["error"]["code"] == f"unknown_{known}", subject
        assert got["error"]["message"] == f"No {known} with id {subject!r}.", subject
    for bad in ({"subject": request_id}, {"subject": 5, "change": "take"}, [], {"change": {}}):
        resp = await web.client.post("/api/owner", json=bad, headers=mine)
        assert resp.status == 400, bad
    handed = await web.client.post(
        "/api/owner",
        json={"subject": request_id, "change": "hand_over", "to": "@stranger:hs"},
        headers=mine,
    )
    assert handed.status == 409 and (await handed.json())["error"]["code"] == "not_staff"
    assert await _owners(web) == [(request_id, "request", STAFF)]
    refused = [b for _a, b, _c, _d in await _audit(web, "desk.") if b.endswith("_refused")]
    assert len(refused) == 5
    # Without a token, nothing is reached.
    resp = await web.client.post("/api/owner", json={"subject": request_id, "change": "release"})
    assert resp.status == 401 and await _owners(web) == [(request_id, "request", STAFF)]


async def test_without_staff_nothing_changes(two):
    web = two
    ids = await seed(web.coord)
    request_id = ids["pending_request"]
    # No session: the sign-in answer, nothing written.
    resp = await web.client.post(
        "/dashboard/actions/owner", data={"subject": request_id, "change": "take"}
    )
    assert resp.status == 401
    # A partner's member (not staff) calling the core: the answer for a missing id, audited.
    now = datetime.now(UTC)
    for by in (Acting("@ann:hs", "alpha"), Acting("@ann:hs", "alpha", staff=True)):
        got = await case_owners.change(
            web.coord.engine,
            by,
            case_owners.Change.TAKE,
            request_id,
            staff=(STAFF, OTHER),
            now=now,
            audit_key=web.coord.audit_key,
        )
        missing = await case_owners.change(
            web.coord.engine,
            by,
            case_owners.Change.TAKE,
            "r-missing",
            staff=(STAFF, OTHER),
            now=now,
            audit_key=web.coord.audit_key,
        )
        assert not got.changed and (got.code, got.message.replace(request_id, "X")) == (
            missing.code,
            missing.message.replace("r-missing", "X"),
        )
    assert await _owners(web) == []
    assert [b for _a, b, _c, _d in await _audit(web, "desk.")] == ["desk.take_refused"] * 4
    # A staff session with a stale CSRF token: refused before anything is read.
    await web.sign_in()
    resp = await web.client.post(
        "/dashboard/actions/owner",
        data={"csrf_token": "forged", "subject": request_id, "change": "take"},
    )
    assert resp.status == 403 and await _owners(web) == []
