"""The public forms: every validation rule, nothing typed lost, CSRF, rate limit, sealing."""

from __future__ import annotations

import asyncio
import html
import json

import pytest
import sqlalchemy as sa

from coordinator.forms import CONTACT_ERROR, CONTACT_FIELDS, REQUEST_FORM, Widget
from coordinator.sealing import Binding, Opener, PublicSealer
from coordinator.store.outbox import partner_address
from coordinator.store.schema import audit_log, outbox, sealed
from coordinator.store.sealed import INTAKE_ROUTED_TO, binding_of
from dsx.web.compose import build_web
from dsx.web.intake import INTAKE_SCOPE, CoreIntake
from dsx.web.services import SERVICES
from tests.harness.notices import rendered
from tests.harness.rawdb import sqlite_bytes
from tests.web.conftest import make_web
from tests.web.forms_data import CANARY, SCHEMAS, expected_text, full_form


async def _post(web, kind: str, pairs, token: str | None = None):
    token = token if token is not None else await web.csrf(f"/{kind}")
    return await web.client.post(f"/{kind}", data=[("csrf_token", token), *pairs])


async def _reference(resp) -> str:
    text = await resp.text()
    assert resp.status == 200, text
    start = text.index('id="case-ref">') + len('id="case-ref">')
    return text[start : text.index("<", start)]


@pytest.mark.parametrize("kind", ["request", "provider"])
async def test_form_renders_every_schema_field(web, kind):
    page = await (await web.client.get(f"/{kind}")).text()
    for spec in SCHEMAS[kind].fields:
        assert f'name="{spec.name}"' in page, spec.name
    assert 'name="csrf_token"' in page


@pytest.mark.parametrize("kind", ["request", "provider"])
async def test_schema_pins_field_names_to_what_is_stored(web, kind):
    """The DSX lesson: what the form posts is what the store keeps, field by field."""
    pairs = full_form(SCHEMAS[kind])
    ref = await _reference(await _post(web, kind, pairs))
    async with web.coord.engine.connect() as conn:
        rows = (await conn.execute(sa.select(sealed).where(sealed.c.owner == ref))).all()
    opener = Opener([web.keys])
    stored = {r.field: opener.open_text(r.blob, binding_of(r)) for r in rows}
    # Beside the fields, where the submission was routed (delivery opens it there only): the
    # routing partner's address (its first encrypted room at delivery), or the staff room.
    routed = partner_address("alpha") if kind == "request" else "!staff:hs"
    assert stored.pop(INTAKE_ROUTED_TO) == routed
    assert set(stored) == set(SCHEMAS[kind].names)
    assert all(r.scope == INTAKE_SCOPE for r in rows)
    for name in SCHEMAS[kind].names:
        assert stored[name] == expected_text(pairs, name), name


async def test_sealed_text_appears_nowhere_in_the_database(web_both):
    web = web_both
    ref = await _reference(await _post(web, "request", full_form(REQUEST_FORM)))
    assert ref.startswith("c-")
    if web.db_url.startswith("sqlite"):
        await web.coord.engine.dispose()  # flush the WAL into the main file
        path = web.db_url.split(":///", 1)[1]
        raw = await asyncio.to_thread(sqlite_bytes, path)
        assert ref.encode() in raw  # the search does see what is there
        assert CANARY.encode() not in raw and CANARY.lower().encode() not in raw
    else:
        found_ref = False
        async with web.coord.engine.connect() as conn:
            tables = (
                await conn.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
            for table in list(tables):
                rows = await conn.execute(sa.text(f'SELECT * FROM "{table}"'))
                for row in rows:
                    for value in row:
                        blob = value if isinstance(value, bytes) else str(value).encode()
                        found_ref |= ref.encode() in blob
                        assert CANARY.lower().encode() not in blob.lower(), table
        assert found_ref


async def test_partner_notice_carries_no_personal_data(web):
    ref = await _reference(await _post(web, "request", full_form(REQUEST_FORM, urgency="critical")))
    async with web.coord.engine.connect() as conn:
        notices = (
            await conn.execute(sa.select(outbox).where(outbox.c.room == "partner:alpha"))
        ).all()
        entries = (await conn.execute(sa.select(audit_log).where(audit_log.c.subject == ref))).all()
    mine = [rendered(n) for n in notices if ref in rendered(n)["body"]]
    assert len(mine) == 1
    # Neither the queued row nor what the room reads holds a field.
    content = json.dumps([n.content for n in notices]) + json.dumps(mine[0])
    assert CANARY.lower() not in content.lower() and "555" not in content
    assert mine[0]["org.dsx.intake"] == {
        "reference": ref,
        "form": "request",
        "urgency": "critical",
        "referral": False,
    }
    assert [e.action for e in entries] == ["intake.received"]
    assert entries[0].actor == "web:public-form"


async def test_provider_application_goes_to_staff_room(web):
    ref = await _reference(await _post(web, "provider", full_form(SCHEMAS["provider"])))
    assert ref.startswith("a-")
    async with web.coord.engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.room, outbox.c.kind, outbox.c.content))).all()
    assert [r.room for r in rows if ref in rendered(r).get("body", "")] == ["!staff:hs"]
    # The details follow in the same room, through their own queue, as a marker only.
    details = [r for r in rows if r.kind == "intake_details"]
    assert [(r.room, r.content) for r in details] == [
        ("intake:!staff:hs", {"reference": ref, "form": "provider"})
    ]


async def test_non_us_country_is_referred_not_refused(web):
    resp = await _post(web, "request", full_form(REQUEST_FORM, country="mx"))
    ref = await _reference(resp)
    assert 'id="referral"' in await resp.text()
    async with web.coord.engine.connect() as conn:
        entry = (await conn.execute(sa.select(audit_log).where(audit_log.c.subject == ref))).one()
        stored = (
            await conn.execute(
                sa.select(sealed.c.blob).where(sealed.c.owner == ref, sealed.c.field == "country")
            )
        ).scalar_one()
    assert entry.data["referral"] is True
    assert Opener([web.keys]).open_text(stored, Binding(ref, INTAKE_SCOPE, "country")) == "MX"


@pytest.mark.parametrize("country", ["US", "PR", "REMOTE"])
async def test_us_or_remote_is_not_referred(web, country):
    resp = await _post(web, "request", full_form(REQUEST_FORM, country=country))
    await _reference(resp)
    assert 'id="referral"' not in await resp.text()


def _valid_submission():
    from multidict import MultiDict

    from coordinator.forms import validate

    result = validate(REQUEST_FORM, MultiDict(full_form(REQUEST_FORM)))
    assert result.ok, result.errors
    return result.submission


async def _count_rows(web) -> tuple[int, int, int]:
    async with web.coord.engine.connect() as conn:
        counts = [
            (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
            for t in (sealed, outbox, audit_log)
        ]
    return counts[0], counts[1], counts[2]


async def test_intake_refuses_anything_but_a_public_sealer(web):
    """The core seals a submission with the public key only: a coordinator holding
    anything that can open blobs refuses to take one, and writes nothing."""
    from coordinator.usecases import Coordinator

    opener = Coordinator(
        web.coord.engine,
        web.coord.config,
        Opener([web.keys]),  # type: ignore[arg-type]
        audit_key=web.coord.audit_key,
    )
    before = await _count_rows(web)
    with pytest.raises(TypeError):
        await opener.receive_intake(_valid_submission())
    assert await _count_rows(web) == before
    with pytest.raises(TypeError):
        build_web(web.coord, web.coord.config, Opener([web.keys]))  # type: ignore[arg-type]
    assert isinstance(web.client.server.app[SERVICES].intake, CoreIntake)
    assert type(web.coord.ctx.sealer) is PublicSealer


def _error_for(page: str, name: str) -> str | None:
    marker = f'id="f-{name}-error">'
    if marker not in page:
        return None
    start = page.index(marker) + len(marker)
    return html.unescape(page[start : page.index("</p>", start)])


async def test_no_contact_channel_is_rejected_and_lists_channels(web):
    pairs = full_form(REQUEST_FORM, **{name: "" for name in CONTACT_FIELDS})
    resp = await _post(web, "request", pairs)
    page = await resp.text()
    assert resp.status == 400
    for name in CONTACT_FIELDS:
        assert _error_for(page, name) == CONTACT_ERROR
    assert all(word in CONTACT_ERROR for word in ("phone", "email", "Signal", "Matrix"))


async def test_one_contact_channel_is_enough(web):
    pairs = full_form(REQUEST_FORM, phone="", email="", matrix="", signal="canary.01")
    await _reference(await _post(web, "request", pairs))


BAD_VALUES = [
    ("email", "not-an-email", "email address"),
    ("phone", "call me maybe", "digits"),
    ("matrix", "canary@example.org", "@name:server"),
    ("website", "javascript:alert(1)", "https://"),
    ("country", "Narnia", "two-letter"),
    ("urgency", "yesterday", "listed options"),
    ("duration", "forever", "listed options"),
    ("name", "", "required"),
    ("need", "", "required"),
    ("need", "x" * 4001, "under 4000"),
    ("languages", [], "at least one"),
    ("areas", ["not-an-area"], "listed options"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES)
async def test_each_rule_reports_next_to_its_field_and_keeps_input(web, name, value, message):
    pairs = full_form(REQUEST_FORM, **{name: value})
    resp = await _post(web, "request", pairs)
    page = await resp.text()
    assert resp.status == 400
    error = _error_for(page, name)
    assert error is not None and message in error, error
    # Everything else that was typed comes back, exactly.
    for spec in REQUEST_FORM.fields:
        if spec.name == name:
            continue
        for v in [v for k, v in pairs if k == spec.name]:
            if spec.widget in (Widget.CHECKBOXES, Widget.RADIO):
                assert f'name="{spec.name}" value="{html.escape(v)}" checked' in page, spec.name
            else:
                assert html.escape(v) in page, spec.name
    async with web.coord.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(sealed))).scalar() == 0


async def test_provider_form_rules(web):
    pairs = full_form(SCHEMAS["provider"], skills=[], qualifications="")
    page = await (await _post(web, "provider", pairs)).text()
    assert "at least one" in _error_for(page, "skills")
    assert "required" in _error_for(page, "qualifications")


async def test_missing_or_foreign_csrf_token_is_refused_without_losing_input(web, tmp_path):
    pairs = full_form(REQUEST_FORM)
    for token in ("", "forged-token"):
        resp = await _post(web, "request", pairs, token=token)
        page = await resp.text()
        assert resp.status == 403
        assert "expired" in page and html.escape(f"{CANARY} need text") in page
    # A token from another browser (another cookie) is useless here.
    other_db = f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}"
    async for other in make_web(other_db, tmp_path):
        foreign = await other.csrf("/request")
        assert (await _post(web, "request", pairs, token=foreign)).status == 403
    async with web.coord.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(sealed))).scalar() == 0


async def test_rate_limit_keeps_input_and_stores_no_address(web):
    from coordinator.store.schema import rate_limits
    from dsx.web.ratelimit import Scope

    allowed = web.settings.limits[Scope.FORMS].hits
    token = await web.csrf("/request")
    bad = full_form(REQUEST_FORM, name="")
    statuses = [(await _post(web, "request", bad, token=token)).status for _ in range(allowed)]
    assert statuses == [400] * allowed
    resp = await _post(web, "request", full_form(REQUEST_FORM), token=token)
    page = await resp.text()
    assert resp.status == 429
    assert "Too many" in page and html.escape(f"{CANARY} need text") in page
    async with web.coord.engine.connect() as conn:
        rows = (await conn.execute(sa.select(rate_limits))).all()
    assert [(r.scope, r.hits) for r in rows] == [(Scope.FORMS.value, allowed + 1)]
    assert "127.0.0.1" not in repr(rows)
