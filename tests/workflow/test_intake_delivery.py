"""Sealed intake details: opened only by delivery, only for an encrypted room, never stored.

The unit tests drive the real outbox and ``WorkflowDelivery`` on a real database with a
recording sender; the integration test runs the whole service on a real Synapse and reads
the details with a partner's E2EE client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from multidict import MultiDict

from coordinator.forms import PROVIDER_FORM, REQUEST_FORM, validate
from coordinator.sealing import (
    Binding,
    Opener,
    PublicSealer,
    SealingKeyPair,
    generate_keypair,
    load_public_key,
)
from coordinator.store import create_engine
from coordinator.store import sealed as sealed_store
from coordinator.store.schema import audit_log, intake_queue, outbox, sealed
from coordinator.usecases import Coordinator
from dsx.web import build_web
from dsx.web.intake import CoreIntake
from partner_bots.sending import SendError, Sent
from partner_bots.workflow.intake import (
    MISPLACED,
    NO_KEY,
    UNENCRYPTED,
    WAITING_NOTICE,
    IntakeDetails,
    render,
)
from partner_bots.workflow.rooms import NO_ENCRYPTED_ROOM, WorkflowDelivery
from tests.harness.rawdb import sqlite_bytes
from tests.web.conftest import CSRF_RE
from tests.web.conftest import make_config as web_config
from tests.web.forms_data import CANARY, full_form
from tests.workflow.harness import (
    Member,
    PartnerSpec,
    join_bot,
    make_config,
    start_coordinator,
)

ROOM = "!alpha:hs"  # alpha's room in tests/web/conftest.py: public requests go there
DETAILS = "org.dsx.intake_details"


@dataclass
class FakeRoom:
    encrypted: bool


@dataclass
class FakeClient:
    rooms: dict[str, FakeRoom]


@dataclass
class FakeSession:
    client: FakeClient


@dataclass
class RecordingSender:
    """Stands in for ``Sender``: records what would go out; the room map says encryption."""

    session: FakeSession
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: SendError | None = None  # every send fails with this (a rate limit, say)

    async def room(self, room_id: str) -> Any:
        return self.session.client.rooms.get(room_id)

    async def send(
        self,
        room_id: str,
        event_type: str,
        content: dict[str, Any],
        tx_id: str | None = None,
        allow_unencrypted: bool = False,
    ) -> Sent:
        if self.fail is not None:
            raise self.fail
        self.sent.append((room_id, content))
        return Sent(f"$ev{len(self.sent)}-{tx_id}", encrypted=True)


@dataclass(frozen=True)
class Partner:
    handle: str
    rooms: tuple[str, ...]


class OnePartner:
    """Alpha and its one room (what ``partner:alpha`` resolves among)."""

    async def partners(self) -> list[Partner]:
        return [Partner("alpha", (ROOM,))]


class NoRooms:
    async def resolve(self, room: str) -> str | None:
        return room if room.startswith("!") else None

    async def create(self, logical: str, content: dict[str, Any]) -> str:
        raise AssertionError("no rooms are created here")


class SpyOpener(Opener):
    """A real opener that counts blobs opened (must stay 0 when delivery refuses)."""

    def __init__(self, keys: SealingKeyPair):
        super().__init__([keys])
        self.opened = 0

    def open(self, sealed: bytes, binding: Binding) -> bytes:
        self.opened += 1
        return super().open(sealed, binding)


@dataclass
class Setup:
    coord: Coordinator
    keys: SealingKeyPair
    intake: CoreIntake


@pytest.fixture
async def setup(db_url: str, tmp_path: Path) -> AsyncIterator[Setup]:
    keys = generate_keypair()
    sealer = PublicSealer(keys.public)
    coord = await Coordinator.open(web_config(tmp_path), url=db_url, sealer=sealer)
    intake = CoreIntake(
        coord.engine,
        sealer,
        staff_room="!staff:hs",
        audit_key=coord.audit_key,
        routing_partner="alpha",
    )
    try:
        yield Setup(coord, keys, intake)
    finally:
        await coord.aclose()


def _submission(**changes: str):
    result = validate(REQUEST_FORM, MultiDict(full_form(REQUEST_FORM, **changes)))
    assert result.ok, result.errors
    return result.submission


def _delivery(s: Setup, encrypted: bool, intake: IntakeDetails | None) -> WorkflowDelivery:
    sender = RecordingSender(FakeSession(FakeClient({ROOM: FakeRoom(encrypted)})))
    return WorkflowDelivery(
        sender,
        s.coord.outbox,
        "test-worker",
        engagement_rooms=NoRooms(),
        intake=intake,
        partners=OnePartner(),
    )


async def _rows(s: Setup) -> list[Any]:
    async with s.coord.engine.connect() as conn:
        return list(await conn.execute(sa.select(outbox).order_by(outbox.c.seq)))


async def _drain(delivery: WorkflowDelivery, rounds: int = 4) -> None:
    for _ in range(rounds):
        await delivery.deliver_once()


async def test_details_are_opened_into_the_notice_thread_and_stored_nowhere(setup: Setup):
    s = setup
    receipt = await s.intake.submit(_submission(need=f"{CANARY} <b>help</b> & more"))
    opener = SpyOpener(s.keys)
    delivery = _delivery(
        s, encrypted=True, intake=IntakeDetails(s.coord.engine, opener, audit_key=s.coord.audit_key)
    )
    await _drain(delivery)
    sent = delivery.sender.sent
    assert [room for room, _ in sent] == [ROOM, ROOM]
    notice, details = sent[0][1], sent[1][1]
    assert CANARY not in json.dumps(notice)
    assert details[DETAILS] == {"reference": receipt.reference, "form": "request"}
    assert f"{CANARY} <b>help</b> & more" in details["body"]
    assert "&lt;b&gt;help&lt;/b&gt; &amp; more" in details["formatted_body"]
    assert "<b>help" not in details["formatted_body"]
    assert "Languages you work in: English, Spanish" in details["body"]  # labels, not codes
    rel = details["m.relates_to"]
    rows = await _rows(s)
    assert rel["rel_type"] == "m.thread" and rel["event_id"] == rows[0].event_id
    assert opener.opened > 0
    assert [r.state for r in rows] == ["sent", "sent"]
    # Queued for alpha's default room, which delivery resolved to its encrypted room.
    assert rows[0].room == "partner:alpha"
    assert rows[1].kind == "intake_details" and rows[1].room == "intake:partner:alpha"
    # Delivered, not stored: a sent row keeps its id, room and event id, no content (not
    # even the marker); the submission's queue row dates the delivery instead.
    assert [r.content for r in rows] == [None, None]
    async with s.coord.engine.connect() as conn:
        delivered = (
            await conn.execute(
                sa.select(intake_queue.c.delivered_at).where(
                    intake_queue.c.reference == receipt.reference
                )
            )
        ).scalar_one()
    assert delivered is not None


async def test_a_partner_without_an_encrypted_room_gets_nothing(setup: Setup):
    """``partner:alpha`` never resolves to an unencrypted room: notice and details wait."""
    s = setup
    await s.intake.submit(_submission())
    opener = SpyOpener(s.keys)
    delivery = _delivery(
        s,
        encrypted=False,
        intake=IntakeDetails(s.coord.engine, opener, audit_key=s.coord.audit_key),
    )
    await _drain(delivery)
    assert opener.opened == 0 and delivery.sender.sent == []
    assert [(r.state, r.error_code) for r in await _rows(s)] == [
        ("pending", NO_ENCRYPTED_ROOM),
        ("pending", NO_ENCRYPTED_ROOM),
    ]


async def test_unencrypted_room_is_refused_before_anything_is_opened(setup: Setup):
    """Rows queued for a room by its id (before partner:<handle> addresses existed)."""
    s = setup
    await s.intake.submit(_submission())
    async with s.coord.engine.begin() as conn:
        for old, new in (("partner:alpha", ROOM), ("intake:partner:alpha", "intake:" + ROOM)):
            await conn.execute(outbox.update().where(outbox.c.room == old).values(room=new))
    opener = SpyOpener(s.keys)
    delivery = _delivery(
        s,
        encrypted=False,
        intake=IntakeDetails(s.coord.engine, opener, audit_key=s.coord.audit_key),
    )
    await _drain(delivery)
    assert opener.opened == 0
    assert all(CANARY not in json.dumps(content) for _, content in delivery.sender.sent)
    assert all(DETAILS not in content for _, content in delivery.sender.sent)
    details = [r for r in await _rows(s) if r.kind == "intake_details"]
    assert [(r.state, r.error_code, r.event_id) for r in details] == [
        ("pending", UNENCRYPTED, None)
    ]


async def test_without_the_private_key_details_wait_and_the_room_keeps_flowing(setup: Setup):
    s = setup
    await s.intake.submit(_submission())
    delivery = _delivery(
        s, encrypted=True, intake=IntakeDetails(s.coord.engine, None, audit_key=s.coord.audit_key)
    )
    await _drain(delivery)
    second = await s.intake.submit(_submission(urgency="critical"))
    await _drain(delivery)
    bodies = [c["body"] for _, c in delivery.sender.sent]
    assert len(bodies) == 2 and second.reference in bodies[1]  # the room is not held up
    details = [r for r in await _rows(s) if r.kind == "intake_details"]
    assert [r.state for r in details] == ["pending", "pending"]
    assert details[0].error_code == NO_KEY  # the second waits behind it, in order


async def test_details_wait_for_their_notice_without_spending_attempts(setup: Setup):
    s = setup
    await s.intake.submit(_submission())
    opener = SpyOpener(s.keys)
    delivery = _delivery(
        s, encrypted=True, intake=IntakeDetails(s.coord.engine, opener, audit_key=s.coord.audit_key)
    )
    delivery.sender.fail = SendError("M_LIMIT_EXCEEDED", 5.0)  # the notice cannot go yet
    await _drain(delivery)
    assert opener.opened == 0
    rows = await _rows(s)
    assert [(r.kind, r.state, r.error_code) for r in rows] == [
        ("message", "pending", "M_LIMIT_EXCEEDED"),
        ("intake_details", "pending", WAITING_NOTICE),
    ]
    assert rows[1].attempts == 1  # looked at once, then left alone for a minute


ORG_CONTACT = "Orchid Defenders, orchid-secret@example.org"


@pytest.mark.parametrize("source", ["submission", "organization"])
async def test_a_blob_copied_into_another_row_is_refused_and_audited(setup: Setup, source: str):
    """Someone who can write to the database (not read it) copies a blob into a
    submission's row, hoping delivery opens it into that submission's room: it does not."""
    s = setup
    victim = await s.intake.submit(_submission())
    target = await s.intake.submit(_submission(urgency="critical"))
    async with s.coord.engine.begin() as conn:
        if source == "organization":  # an organization's contact, sealed as the use case does
            await sealed_store.store(conn, s.coord.ctx.sealer, "o1", "org", "contact", ORG_CONTACT)
            where = (sealed.c.owner == "o1") & (sealed.c.field == "contact")
        else:
            where = (sealed.c.owner == victim.reference) & (sealed.c.field == "need")
        blob = (await conn.execute(sa.select(sealed.c.blob).where(where))).scalar_one()
        moved = await conn.execute(
            sealed.update()
            .where(sealed.c.owner == target.reference, sealed.c.field == "need")
            .values(blob=blob)
        )
        assert moved.rowcount == 1
    opener = SpyOpener(s.keys)
    delivery = _delivery(
        s, encrypted=True, intake=IntakeDetails(s.coord.engine, opener, audit_key=s.coord.audit_key)
    )
    await _drain(delivery)

    sent = [content for _, content in delivery.sender.sent]
    opened_for = [c[DETAILS]["reference"] for c in sent if DETAILS in c]
    assert opened_for == [victim.reference]  # the untouched submission still goes out
    assert opener.opened > 0
    for content in sent:  # nothing of the target, nor of the copied value, reached the room
        assert ORG_CONTACT not in json.dumps(content)
        if target.reference in content.get("body", ""):
            assert DETAILS not in content and CANARY not in json.dumps(content)
    rows = [r for r in await _rows(s) if r.kind == "intake_details"]
    # The delivered row kept no content; the refused one still waits with its marker.
    (sent_row,) = [r for r in rows if r.content is None]
    assert sent_row.state == "sent"
    details = {r.content["reference"]: r for r in rows if r.content is not None}
    assert victim.reference not in details
    refused = details[target.reference]
    assert (refused.state, refused.error_code, refused.event_id) == ("pending", MISPLACED, None)
    async with s.coord.engine.connect() as conn:
        entries = (
            await conn.execute(
                sa.select(audit_log).where(audit_log.c.action == "intake.details_refused")
            )
        ).all()
    assert [(e.subject, e.actor, e.data) for e in entries] == [
        (target.reference, "delivery", {"code": MISPLACED})
    ]
    assert CANARY not in json.dumps([e.data for e in entries])


@pytest.mark.parametrize("change", ["room", "reference"])
async def test_details_open_only_into_the_room_they_were_routed_to(setup: Setup, change: str):
    """A request is routed to alpha's room, an application to the staff room. Editing an
    outbox row (its room, or the reference it names) cannot open a request's details in
    the staff room: the room each submission was routed to is sealed with it."""
    s = setup
    request = await s.intake.submit(_submission())
    application = await s.intake.submit(
        validate(PROVIDER_FORM, MultiDict(full_form(PROVIDER_FORM))).submission
    )
    async with s.coord.engine.begin() as conn:
        if change == "room":  # the request's details row now points at the staff room
            where, values = (
                outbox.c.content["reference"].as_string() == request.reference,
                {"room": "intake:!staff:hs"},
            )
        else:  # the staff room's details row now names the request
            where = outbox.c.content["reference"].as_string() == application.reference
            values = {"content": {"reference": request.reference, "form": "request"}}
        edited = await conn.execute(
            outbox.update().where(outbox.c.kind == "intake_details", where).values(**values)
        )
        assert edited.rowcount == 1
    rooms = {ROOM: FakeRoom(True), "!staff:hs": FakeRoom(True)}
    sender = RecordingSender(FakeSession(FakeClient(rooms)))
    opener = SpyOpener(s.keys)
    delivery = WorkflowDelivery(
        sender,
        s.coord.outbox,
        "test-worker",
        engagement_rooms=NoRooms(),
        intake=IntakeDetails(s.coord.engine, opener, audit_key=s.coord.audit_key),
        partners=OnePartner(),
    )
    await _drain(delivery)

    for room, content in sender.sent:
        if room == "!staff:hs":
            assert CANARY not in json.dumps(content)  # no field of the request went there
            assert content.get(DETAILS, {}).get("reference") != request.reference
    details = [r for r in await _rows(s) if r.kind == "intake_details"]
    refused = [r for r in details if r.error_code == MISPLACED]
    assert [(r.room, r.state, r.content["reference"]) for r in refused] == [
        ("intake:!staff:hs", "pending", request.reference)
    ]
    delivered = [(room, c[DETAILS]["reference"]) for room, c in sender.sent if DETAILS in c]
    if change == "reference":  # the request's own row still reaches alpha's room
        assert delivered == [(ROOM, request.reference)]
    else:  # the application waits behind the refused row in the staff room's queue
        assert delivered == []
    async with s.coord.engine.connect() as conn:
        entries = (
            await conn.execute(
                sa.select(audit_log.c.subject).where(audit_log.c.action == "intake.details_refused")
            )
        ).scalars()
        assert list(entries) == [request.reference]


def test_render_escapes_html_and_keeps_unknown_fields():
    content = render(
        "c-1",
        REQUEST_FORM.kind,
        {"name": "<img src=x onerror=alert(1)>", "need": "line one\nline two", "legacy": "kept"},
    )
    html_body = content["formatted_body"]
    assert "<img" not in html_body and "&lt;img src=x" in html_body
    assert "line one<br>line two" in html_body
    assert "legacy: kept" in content["body"]
    assert content["m.mentions"] == {"user_ids": []}


async def test_missing_key_file_disables_details_without_crashing(setup: Setup, tmp_path: Path):
    broken = tmp_path / "sealing.key"
    broken.write_text("not base64 at all!\n")
    details = IntakeDetails.from_key_file(
        setup.coord.engine, str(broken), audit_key=setup.coord.audit_key
    )
    assert details.opener is None and details.refusal(FakeRoom(True)).code != NO_KEY
    assert (
        IntakeDetails.from_key_file(setup.coord.engine, "", audit_key=setup.coord.audit_key)
        .refusal(FakeRoom(True))
        .code
        == NO_KEY
    )


# -- end to end: the form on the real web app, the details read by a partner's E2EE client ---


async def _all_rows(url: str) -> bytes:
    """Every value of every table (PostgreSQL), as bytes to search."""
    engine = create_engine(url)
    out: list[bytes] = []
    try:
        async with engine.connect() as conn:
            tables = await conn.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            for table in list(tables.scalars()):
                for row in await conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    out += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    finally:
        await engine.dispose()
    return b"\n".join(out)


@pytest.mark.synapse
async def test_partner_reads_the_details_of_a_public_request_in_its_encrypted_room(
    homeserver, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    ann = await Member.create(homeserver, tmp_path / "clients", "ann")
    coordinator = None
    try:
        room = await ann.create_encrypted_room(invite=[])
        password = secrets.token_urlsafe(12)
        bot = await homeserver.register(f"dsxintake-{secrets.token_hex(3)}", password)
        config = make_config(
            homeserver,
            bot.user_id,
            password,
            tmp_path / "data",
            [PartnerSpec("alpha", room, (ann.user_id,))],
            database_url=db_url,
            private_key=True,
        )
        coordinator = await start_coordinator(config)
        await join_bot(ann, room, bot.user_id)
        # The public form, through the real web app over the running coordinator.
        sealer = load_public_key(config.sealing.public_key_file)
        stack = build_web(coordinator.running.coordinator, config, sealer)
        async with TestClient(TestServer(stack.app)) as http:
            page = await (await http.get("/request")).text()
            csrf = CSRF_RE.search(page)
            assert csrf is not None
            pairs = full_form(REQUEST_FORM, need=f"{CANARY} our <site> was defaced")
            resp = await http.post("/request", data=[("csrf_token", csrf.group(1)), *pairs])
            text = await resp.text()
            assert resp.status == 200, text
            start = text.index('id="case-ref">') + len('id="case-ref">')
            reference = text[start : text.index("<", start)]
        coordinator.running.delivery.wake()

        notice = await ann.wait_event(
            room,
            bot.user_id,
            lambda e: (
                reference in e.get("content", {}).get("body", "") and DETAILS not in e["content"]
            ),
            what="the intake notice",
        )
        details = await ann.wait_event(
            room,
            bot.user_id,
            lambda e: e.get("content", {}).get(DETAILS, {}).get("reference") == reference,
            what="the intake details",
        )
        assert CANARY not in json.dumps(notice["content"])
        body, html_body = details["content"]["body"], details["content"]["formatted_body"]
        assert f"{CANARY} our <site> was defaced" in body  # the description
        assert f"{CANARY.lower()}@example.org" in body and "+1 555 010 7733" in body  # contacts
        assert "our &lt;site&gt; was defaced" in html_body
        relation = details["content"]["m.relates_to"]
        assert relation["rel_type"] == "m.thread" and relation["event_id"] == notice["event_id"]
        # It reached ann's client encrypted: the homeserver only ever saw m.room.encrypted.
        assert details["type"] == "m.room.message"
        async with aiohttp.ClientSession() as plain_http:
            url = (
                f"{homeserver.base_url}/_matrix/client/v3/rooms/{room}/event/{details['event_id']}"
            )
            headers = {"Authorization": f"Bearer {ann.client.access_token}"}
            async with plain_http.get(url, headers=headers) as stored:
                on_server = await stored.json()
        assert on_server["type"] == "m.room.encrypted", on_server.get("type")
        assert CANARY not in json.dumps(on_server)
    finally:
        if coordinator is not None:
            await coordinator.shutdown()  # disposes the engine: the WAL is checkpointed
        await ann.close()
    assert "intake.details_refused" not in caplog.text
    assert CANARY not in caplog.text and "555 010 7733" not in caplog.text  # nor in a log
    # The plaintext that went to the room is in no database file (WAL included) or table.
    if db_url.startswith("sqlite"):
        raw_db = await asyncio.to_thread(sqlite_bytes, db_url)
    else:
        raw_db = await _all_rows(db_url)
    assert reference.encode() in raw_db  # the search does see what is there
    for secret in (CANARY, CANARY.lower(), "our <site> was defaced", "555 010 7733"):
        assert secret.encode() not in raw_db, secret
