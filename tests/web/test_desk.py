"""The staff desk: the incoming queue of public-form submissions, acknowledged and
audited, and the two-step confirmation of refuse, remove and token revoke; on SQLite and
on PostgreSQL, through the real app."""

from __future__ import annotations

import html
import re
from datetime import datetime

import sqlalchemy as sa

from coordinator import audit
from coordinator.forms import PROVIDER_FORM, REQUEST_FORM
from coordinator.store.schema import audit_log, intake_queue, members, outbox, requests
from dsx.web.staff import SESSION_COOKIE
from tests.web.conftest import STAFF, seed
from tests.web.forms_data import CANARY, full_form


async def _submit(web, kind: str, **changes) -> str:
    """Post a complete public form as a visitor does; returns its reference."""
    schema = REQUEST_FORM if kind == "request" else PROVIDER_FORM
    token = await web.csrf(f"/{kind}")
    resp = await web.client.post(
        f"/{kind}", data=[("csrf_token", token), *full_form(schema, **changes)]
    )
    text = await resp.text()
    assert resp.status == 200, text
    start = text.index('id="case-ref">') + len('id="case-ref">')
    return text[start : text.index("<", start)]


def _text(page: str) -> str:
    """What a reader sees: the markup without its tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _row(page: str, reference: str) -> str:
    return page.split(f'data-reference="{reference}"')[1].split("</tr>")[0]


async def _audit(web, action: str) -> list[sa.Row]:
    async with web.coord.engine.connect() as conn:
        query = sa.select(audit_log).where(audit_log.c.action == action)
        return list((await conn.execute(query)).all())


async def _queue(web) -> list[tuple]:
    async with web.coord.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(sa.select(intake_queue))]


async def test_submissions_appear_in_the_incoming_queue_and_are_acknowledged(web_both):
    web = web_both
    request_ref = await _submit(web, "request", urgency="critical")
    provider_ref = await _submit(web, "provider")
    await web.sign_in()
    page = await (await web.client.get("/dashboard/incoming")).text()
    req, prov = _row(page, request_ref), _row(page, provider_ref)
    assert "request for assistance" in req and "critical" in req
    assert '<span class="mono id">alpha</span>' in req  # routed to the partner, by handle
    assert "provider application" in prov and "staff room" in prov
    assert "Acknowledge" in req and "Acknowledge" in prov
    # Never a field of the form: not the name, not a contact, not the free text.
    assert CANARY not in page and CANARY.lower() not in page
    # The menu counts what nobody acknowledged yet, on every dashboard page.
    menu = await (await web.client.get("/dashboard/stats")).text()
    assert '<span class="count" title="not acknowledged">2</span>' in menu
    assert "(2 incoming)" in menu
    # The vetting page no longer says only "Nobody is waiting" after an application.
    vetting = await (await web.client.get("/dashboard/vetting")).text()
    assert "1 provider application from the public form waits" in vetting
    assert 'href="/dashboard/incoming"' in vetting

    token = await web.csrf("/dashboard/incoming")
    resp = await web.client.post(
        "/dashboard/incoming/acknowledge", data={"csrf_token": token, "reference": provider_ref}
    )
    page = await resp.text()
    assert resp.status == 200 and f"{provider_ref} acknowledged." in page
    prov = _row(page, provider_ref)
    assert "Acknowledge</button>" not in prov and f'by <span class="mono id">{STAFF}' in prov
    assert "UTC" in prov
    assert '<span class="count" title="not acknowledged">1</span>' in page
    (entry,) = await _audit(web, "intake.acknowledged")
    assert (entry.actor, entry.subject) == (STAFF, provider_ref)
    assert await audit.verify(web.coord.engine, web.coord.audit_key) is None

    # A second acknowledgement, or one of nothing, changes nothing and reads the same.
    before = await _queue(web)
    again = await web.client.post(
        "/dashboard/incoming/acknowledge", data={"csrf_token": token, "reference": provider_ref}
    )
    unknown = await web.client.post(
        "/dashboard/incoming/acknowledge", data={"csrf_token": token, "reference": "a-0000000000"}
    )
    assert again.status == unknown.status == 404
    assert "No such submission waiting." in await again.text()
    assert "No such submission waiting." in await unknown.text()
    assert await _queue(web) == before
    refused = await _audit(web, "intake.acknowledge_refused")
    assert [(e.actor, e.subject) for e in refused] == [
        (STAFF, provider_ref),
        (STAFF, "a-0000000000"),
    ]


async def test_only_a_staff_session_sees_or_acknowledges_the_queue(web_both):
    web = web_both
    ref = await _submit(web, "request")
    for cookie in (None, "made-up-session"):
        web.client.session.cookie_jar.clear()
        if cookie:
            web.client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
        listing = await web.client.get("/dashboard/incoming")
        assert listing.status == 401 and ref not in await listing.text()
        resp = await web.client.post(
            "/dashboard/incoming/acknowledge", data={"csrf_token": "x", "reference": ref}
        )
        assert resp.status == 401
    # A signed-in staff member without the form's CSRF token: refused too.
    web.client.session.cookie_jar.clear()
    await web.sign_in()
    forged = await web.client.post(
        "/dashboard/incoming/acknowledge", data={"csrf_token": "forged", "reference": ref}
    )
    assert forged.status == 403
    ((*_, acknowledged_at, acknowledged_by),) = await _queue(web)
    assert acknowledged_at is None and acknowledged_by is None
    assert await _audit(web, "intake.acknowledged") == []


async def _state(web, request_id: str) -> str:
    async with web.coord.engine.connect() as conn:
        query = sa.select(requests.c.state).where(requests.c.id == request_id)
        return (await conn.execute(query)).scalar_one()


async def test_a_refusal_needs_a_confirmation_with_a_listed_code(web_both):
    web = web_both
    ids = await seed(web.coord)
    await web.sign_in()
    target = ids["overdue_request"]
    token = await web.csrf("/dashboard")
    audit_before = await audit.count(web.coord.engine)
    state_before = await _state(web, target)  # filed and routed: not refused
    assert state_before != "refused"

    first = await web.client.post(
        "/dashboard/actions/refuse", data={"csrf_token": token, "request": target}
    )
    page = html.unescape(await first.text())
    assert first.status == 200 and f"Refuse request {target}?" in _text(page)
    assert f'<span class="id">{target}</span>' in page  # an id never wraps
    assert "Nothing has changed yet." in page and 'name="confirm" value="yes"' in page
    assert (
        '<option value="hate_agenda"' in page and '<select id="reason-code" name="reason"' in page
    )
    assert 'class="danger" id="confirm"' in page
    # Without the confirm field, even with a listed code: nothing happens.
    unconfirmed = await web.client.post(
        "/dashboard/actions/refuse",
        data={"csrf_token": token, "request": target, "reason": "hate_agenda"},
    )
    assert unconfirmed.status == 200 and "Done: refuse" not in await unconfirmed.text()
    # Confirmed with free text instead of a listed code: refused, nothing happens.
    for code in ("because I say so", "", "Hate_Agenda"):
        bad = await web.client.post(
            "/dashboard/actions/refuse",
            data={"csrf_token": token, "request": target, "reason": code, "confirm": "yes"},
        )
        assert bad.status == 422 and "Choose a reason code from the list." in await bad.text()
    # Confirmed without the CSRF token: forbidden.
    forged = await web.client.post(
        "/dashboard/actions/refuse",
        data={"csrf_token": "x", "request": target, "reason": "hate_agenda", "confirm": "yes"},
    )
    assert forged.status == 403
    assert await _state(web, target) == state_before
    assert await audit.count(web.coord.engine) == audit_before

    done = await web.client.post(
        "/dashboard/actions/refuse",
        data={"csrf_token": token, "request": target, "reason": "hate_agenda", "confirm": "yes"},
    )
    assert done.status == 200 and "Done: refuse" in await done.text()
    assert await _state(web, target) == "refused"
    (entry,) = await _audit(web, "request.refused")
    assert entry.actor == STAFF and entry.data["code"] == "hate_agenda"


async def test_a_removal_and_a_revocation_need_a_confirmation(web_both):
    web = web_both
    await seed(web.coord)
    await web.sign_in()
    token = await web.csrf("/dashboard")
    first = await web.client.post(
        "/dashboard/actions/remove", data={"csrf_token": token, "member": "@p2:hs"}
    )
    assert first.status == 200 and "Remove @p2:hs from the network?" in _text(await first.text())
    async with web.coord.engine.connect() as conn:
        status = (
            await conn.execute(sa.select(members.c.status).where(members.c.id == "@p2:hs"))
        ).scalar_one()
    assert status == "pod" and await _audit(web, "member.removed") == []
    done = await web.client.post(
        "/dashboard/actions/remove",
        data={"csrf_token": token, "member": "@p2:hs", "code": "inactive", "confirm": "yes"},
    )
    assert done.status == 200 and "Done: remove" in await done.text()
    (entry,) = await _audit(web, "member.removed")
    assert entry.data["code"] == "inactive"

    secret = await web.auth.issue_api_token(STAFF, "nightly")
    (grant,) = await web.auth.api_tokens(STAFF)
    bearer = {"Authorization": f"Bearer {secret}"}
    data = {"csrf_token": token, "token_id": grant.token_id or ""}
    asked = await web.client.post("/dashboard/api-token/revoke", data=data)
    page = await asked.text()
    assert asked.status == 200 and f"Revoke token {grant.token_id}?" in _text(page)
    assert "nightly" in page
    assert (await web.client.get("/api/requests", headers=bearer)).status == 200
    assert await _audit(web, "api_token.revoked") == []
    gone = await web.client.post("/dashboard/api-token/revoke", data={**data, "confirm": "yes"})
    assert gone.status == 200 and f"Token {grant.token_id} revoked." in await gone.text()
    assert (await web.client.get("/api/requests", headers=bearer)).status == 401


async def test_counts_are_written_out_and_times_read_one_way(web):
    from dsx.web.render import ENV

    plural = ENV.from_string(
        '{% from "_macros.html" import plural %}'
        '{{ plural(0, "vouch", "vouches") }}|{{ plural(1, "vouch", "vouches") }}|'
        '{{ plural(2, "vouch", "vouches") }}'
    )
    assert await plural.render_async() == "0 vouches|1 vouch|2 vouches"
    await seed(web.coord)
    await web.sign_in()
    vetting = await (await web.client.get("/dashboard/vetting")).text()
    row = vetting.split('data-member="@p3:hs"')[1].split("</tr>")[0]
    assert ">0 vouches<" in row and ">0 references<" in row
    when = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    audit_page = await (await web.client.get("/dashboard/audit")).text()
    cells = re.findall(r'<td data-label="At" class="nowrap">([^<]*)</td>', audit_page)
    assert cells and all(when.fullmatch(c) for c in cells), cells[:3]
    dashboard = await (await web.client.get("/dashboard")).text()
    assert 'class="danger">Refuse' in dashboard  # destructive buttons look it
    assert '<td data-label="Request" class="mono id">' in dashboard  # ids never wrap


async def test_submissions_from_before_the_upgrade_join_the_queue(db_url):
    """The 0006 revision fills the queue from the ``intake.received`` audit entries, with
    the partner's handle from the notice still in the outbox."""
    from coordinator.store import create_engine, migrate

    await migrate(db_url, "0005_request_room")
    engine = create_engine(db_url)
    at = "2026-03-01T12:00:00+00:00"
    try:
        async with engine.begin() as conn:
            for seq, ref, form, urgency in (
                (1, "c-1", "request", "high"),
                (2, "a-1", "provider", "normal"),
            ):
                data = {"form": form, "urgency": urgency, "referral": False, "fields": 3}
                await conn.execute(
                    audit_log.insert().values(
                        seq=seq,
                        at=at,
                        actor="web:public-form",
                        action="intake.received",
                        subject=ref,
                        data=data,
                        prev_hash="0" * 64,
                        hash="1" * 64,
                    )
                )
            when = datetime.fromisoformat(at)
            await conn.execute(
                outbox.insert().values(
                    id="o1",
                    room="partner:alpha",
                    kind="message",
                    content={"org.dsx.intake": {"reference": "c-1"}},
                    created_at=when,
                    state="sent",
                    attempts=0,
                    available_at=when,
                )
            )
        await migrate(db_url)
        async with engine.connect() as conn:
            rows = {r.reference: r for r in await conn.execute(sa.select(intake_queue))}
    finally:
        await engine.dispose()
    assert set(rows) == {"c-1", "a-1"}
    assert (rows["c-1"].form, rows["c-1"].urgency, rows["c-1"].routed_to) == (
        "request",
        "high",
        "alpha",
    )
    assert rows["a-1"].routed_to is None and rows["a-1"].acknowledged_at is None
