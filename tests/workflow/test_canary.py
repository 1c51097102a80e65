"""After close, nothing the coordinator keeps names the organization (docs/security.md,
"What we keep"). A canary name (spaces, an accent), a canary contact and a canary note go
through request → proposal → approval → engagement → close, once from `!dsx org add` and
once from the public form, on real Synapse and on SQLite and PostgreSQL. Each canary is
first seen where it belongs (the delivered Matrix messages, the form's POST body), and
the search is shown to find a plaintext planted in a scratch table; after close none is
in the database files (WAL and journal included), in a `pg_dump`, in any outbox, inbox
or audit row, or in the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import subprocess
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from coordinator.config import PolicyConfig
from coordinator.forms import REQUEST_FORM
from coordinator.sealing import load_public_key
from coordinator.store.schema import audit_log, inbox, intake_queue, outbox, sealed
from dsx.web import build_web
from tests.harness.rawdb import sqlite_bytes
from tests.web.conftest import CSRF_RE
from tests.web.forms_data import full_form
from tests.workflow.conftest import World
from tests.workflow.harness import ENGAGEMENT, PROPOSAL, REPLY, Member, proposal_of

pytestmark = pytest.mark.synapse

# Public-form submissions are purged as soon as their details were delivered, so the
# test need not wait out the default 30 days (coordinator/retention.py).
WORLD_POLICY = PolicyConfig(intake_retention_days=0)

SCRATCH = "Plaintext Cañary Probe 0042"  # planted in the clear: the search must find it


def forms(text: str) -> list[bytes]:
    """Every way the text could sit in a file: UTF-8, JSON-escaped, and its ASCII words."""
    ascii_words = " ".join(w for w in text.split() if w.isascii())
    return [text.encode(), json.dumps(text)[1:-1].encode(), ascii_words.encode()]


def found_in(haystack: bytes, text: str) -> bool:
    return any(form and form in haystack for form in forms(text))


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply[REPLY]["ok"], reply.get("body")
    return reply


async def ask_ok(member: Member, room: str, bot: str, body: str) -> dict[str, Any]:
    return ok(await member.ask(room, bot, body))


async def ensure_provider(w: World) -> None:
    """Provider p1, vetted through alpha (once per module: either test may run first)."""
    p1 = w.providers["p1"].user_id
    added = await w.ann.ask(
        w.room_a, w.bot, f"!dsx provider add {p1} skills=devices langs=en regions=US-CA capacity=3"
    )
    assert added[REPLY]["ok"] or added[REPLY]["error"]["code"] == "member_exists", added["body"]
    for body in (f"!dsx vouch {p1}", f"!dsx vet {p1}"):
        await ask_ok(w.ann, w.room_a, w.bot, body)


async def plant_scratch(w: World) -> None:
    engine = w.coordinator.running.coordinator.engine
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS canary_scratch (v TEXT)"))
        await conn.execute(sa.text("INSERT INTO canary_scratch (v) VALUES (:v)"), {"v": SCRATCH})


async def stored_bytes(w: World) -> bytes:
    """The database as a thief would take it: the SQLite files read as bytes, or a
    `pg_dump` of the PostgreSQL database."""
    config = w.coordinator.config
    url = config.database_url
    if url.startswith("sqlite"):
        return await asyncio.to_thread(sqlite_bytes, url)
    pg_dump = shutil.which("pg_dump")
    assert pg_dump is not None, "pg_dump is needed for this test"
    dsn = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
    done = await asyncio.to_thread(
        subprocess.run, [pg_dump, "--no-owner", dsn], capture_output=True, check=True
    )
    return done.stdout


async def trail_rows(w: World) -> bytes:
    """Every outbox, inbox and audit row, as text."""
    engine = w.coordinator.running.coordinator.engine
    out: list[str] = []
    async with engine.connect() as conn:
        for table in (outbox, inbox, audit_log):
            rows = (await conn.execute(sa.select(table))).all()
            assert rows, f"{table.name} is empty: the search would prove nothing"
            out += [json.dumps([str(v) for v in row], ensure_ascii=False) for row in rows]
    return "\n".join(out).encode()


async def lifecycle(w: World, org: str, name: str, note: str) -> tuple[str, dict[str, Any]]:
    """Vet ``org``, file a request with ``note``, approve the proposal, read the engagement
    room's introduction as the provider, close it; returns the request and that message."""
    bot, p1 = w.bot, w.providers["p1"]
    await ask_ok(w.ann, w.room_a, bot, f'!dsx vouch "{name}"')
    vetted = await ask_ok(w.ann, w.room_a, bot, f'!dsx vet "{name}"')
    assert "is accepted" in vetted["body"], vetted["body"]
    filed = await ask_ok(
        w.ann, w.room_a, bot, f'!dsx request "{name}" skills=devices langs=en note="{note}"'
    )
    request = filed["body"].split()[1]
    proposal = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda s: (
            (proposal_of(s) or {}).get("request") == request and "m.new_content" not in s["content"]
        ),
        what="the proposal",
    )
    # The routing partner's room reads the name, opened at delivery beside the id.
    assert f"{name} ({org})" in proposal["content"]["body"]
    approved = await ask_ok(
        w.ann, w.room_a, bot, f"!dsx approve {proposal['content'][PROPOSAL]['id']}"
    )
    engagement = approved["body"].split("engagement ")[1].split()[0].rstrip(".")
    invited: list[str] = []

    def has_invite() -> bool:
        invited[:] = list(p1.client.invited_rooms)
        return bool(invited)

    await p1.sync_until(has_invite, 60, "the engagement invite")
    room = invited[0]
    await p1.accept_invite(room)
    await p1.read_history(room)
    intro = await p1.wait_event(
        room, bot, lambda s: ENGAGEMENT in s.get("content", {}), what="the introduction"
    )
    closed = await ask_ok(w.ann, w.room_a, bot, f"!dsx close {engagement}")
    assert "purged" in closed["body"]
    await p1.wait_event(
        room, bot, lambda s: "is closed" in s["content"].get("body", ""), what="the closing note"
    )
    await p1.client.room_leave(room)
    return request, intro


async def assert_gone(w: World, caplog: pytest.LogCaptureFixture, org: str, *canaries: str) -> None:
    stored, rows = await stored_bytes(w), await trail_rows(w)
    assert found_in(stored, SCRATCH), "the search does not see a plaintext that is there"
    for canary in canaries:
        assert not found_in(stored, canary), f"{canary!r} is still in the database files"
        assert not found_in(rows, canary), f"{canary!r} is in an outbox, inbox or audit row"
        assert not found_in(caplog.text.encode(), canary), f"{canary!r} is in the logs"
    engine = w.coordinator.running.coordinator.engine
    async with engine.connect() as conn:
        held = sa.select(sa.func.count()).where(sealed.c.owner == org)
        assert (await conn.execute(held)).scalar_one() == 0


async def test_a_partners_organization_leaves_no_trace_after_close(
    world: World, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)  # the level the service logs at
    w, bot = world, world.bot
    name = "Société Canari d'Aide Juridique 5521"
    contact = "Ana Canari, +1 202 555 0142"
    note = "Canari note 5521: staff phones seized"
    await plant_scratch(w)
    await ensure_provider(w)
    added = await ask_ok(
        w.ann, w.room_a, bot, f'!dsx org add "{name}" region=US-CA contact="{contact}"'
    )
    org = added["body"].split()[1]
    assert re.fullmatch(r"o-[0-9a-f]{12}", org), org
    before = await stored_bytes(w)
    # Sealed at once: not even the open case puts the name in the database in plain text.
    assert found_in(before, SCRATCH) and not found_in(before, name)

    _request, intro = await lifecycle(w, org, name, note)
    # The engagement room got the name, the contact and the note, opened at delivery.
    for canary in (name, contact, note):
        assert canary in intro["content"]["body"], canary
    await assert_gone(w, caplog, org, name, contact, note)


async def test_a_public_form_organization_leaves_no_trace_after_close(
    world: World, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)  # the level the service logs at
    w, bot = world, world.bot
    running = w.coordinator.running
    name = "Asociación Canaria de Ayuda 4471"
    contact = "canaria.4471@example.org"
    note = "Canaria need 4471: our site was defaced"
    await plant_scratch(w)
    # The organization writes to the public form, through the real web app.
    sealer = load_public_key(w.coordinator.config.sealing.public_key_file)
    stack = build_web(running.coordinator, w.coordinator.config, sealer)
    pairs = full_form(REQUEST_FORM, organization=name, email=contact, need=note, country="US")
    async with TestClient(TestServer(stack.app)) as http:
        page = await (await http.get("/request")).text()
        csrf = CSRF_RE.search(page)
        assert csrf is not None
        body = [("csrf_token", csrf.group(1)), *pairs]
        posted = " ".join(v for _k, v in body)
        for canary in (name, contact, note):  # the POST body carried them in the clear
            assert canary in posted
        resp = await http.post("/request", data=body)
        text = await resp.text()
        assert resp.status == 200, text
        start = text.index('id="case-ref">') + len('id="case-ref">')
        reference = text[start : text.index("<", start)]
    running.delivery.wake()
    details = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda e: (
            e.get("content", {}).get("org.dsx.intake_details", {}).get("reference") == reference
        ),
        what="the intake details",
    )
    for canary in (name, contact, note):  # delivered into alpha's encrypted room
        assert canary in details["content"]["body"], canary

    # The partner registers the organization as the form named it, then the case runs.
    added = await ask_ok(
        w.ann, w.room_a, bot, f'!dsx org add "{name}" region=US-CA contact="{contact}"'
    )
    org = added["body"].split()[1]
    await ensure_provider(w)
    _request, intro = await lifecycle(w, org, name, note)
    for canary in (name, contact, note):
        assert canary in intro["content"]["body"], canary
    # The submission's own sealed copy goes once delivered and past its window (0 days).
    purged = await running.coordinator.purge_delivered_intake()
    assert reference in purged.references
    async with running.coordinator.engine.connect() as conn:
        queued = sa.select(intake_queue).where(intake_queue.c.reference == reference)
        assert (await conn.execute(queued)).all() == []  # only the count remains
    await assert_gone(w, caplog, org, name, contact, note)
