"""Free-text reasons are kept sealed (never in plain text anywhere in the database), and
removing an organization ends its cases; on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from coordinator import retention
from coordinator.domain import DomainError
from coordinator.sealing import Binding, Opener
from coordinator.store.schema import metadata, proposals, requests, sealed
from tests.coordinator.conftest import network
from tests.harness.rawdb import sqlite_files

DECLINE_TEXT = "Zanzibar-7731 said the provider shouted at staff"
REMOVAL_TEXT = "Quetzal-4410 harassed a volunteer at the May meetup"


async def _dump(c) -> str:
    """Every table's rows, as text: what a stolen database would show in plain text."""
    out = []
    async with c.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                out.append(
                    json.dumps(
                        [v.decode("latin-1") if isinstance(v, bytes) else v for v in row],
                        default=str,
                    )
                )
    return "\n".join(out)


def _sqlite_files(c) -> list[Path]:
    if c.engine.dialect.name != "sqlite":
        return []
    db = Path(c.engine.url.database)
    assert db.stat().st_size > 0
    return sqlite_files(db)


async def _reasons(c) -> dict[tuple[str, str], bytes]:
    async with c.engine.connect() as conn:
        found = await conn.execute(
            sa.select(sealed.c.owner, sealed.c.field, sealed.c.blob).where(
                sealed.c.scope == retention.REASON_SCOPE
            )
        )
        return {(o, f): b for o, f, b in found}


async def test_reasons_are_sealed_and_decline_reasons_go_with_the_case(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["en"])
    first = await c.route(filed.request)
    declined = await c.decline(first.proposal, "alpha", reason=DECLINE_TEXT)
    await c.remove_member("@p2:hs", "staff_removal", reason=REMOVAL_TEXT)

    held = await _reasons(c)
    opener = Opener([c.test_keys])
    decline = Binding("o1", retention.REASON_SCOPE, f"decline:{first.proposal}")
    removal = Binding("@p2:hs", retention.REASON_SCOPE, "removal")
    assert opener.open_text(held[("o1", decline.field)], decline) == DECLINE_TEXT
    assert opener.open_text(held[("@p2:hs", "removal")], removal) == REMOVAL_TEXT
    dump = await _dump(c)
    for text in (DECLINE_TEXT, REMOVAL_TEXT):
        assert text not in dump and text.split()[0] not in dump
    for path in _sqlite_files(c):
        data = path.read_bytes()
        for text in (DECLINE_TEXT, REMOVAL_TEXT):
            assert text.split()[0].encode() not in data, path.name

    # Removing p2 cancelled the second proposal; the request is unmatched. Refusing the
    # case purges its decline reason; the removal reason stays with the removed member.
    assert declined.next_provider == "@p2:hs"
    await c.refuse(filed.request, "out_of_mandate")
    assert set(await _reasons(c)) == {("@p2:hs", "removal")}


async def test_closing_a_case_purges_its_decline_reasons(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["en"])
    first = await c.route(filed.request)
    second = await c.decline(first.proposal, "alpha", reason=DECLINE_TEXT)
    approved = await c.approve(second.next_proposal, "alpha")
    if approved.waiting_for:
        approved = await c.approve(second.next_proposal, "beta")
    held = await _reasons(c)
    assert held
    # The reason was never in the files in plain text; what a purge must remove is its
    # sealed blob, which the search sees before the close (on SQLite).
    tails = [blob[-32:] for blob in held.values()]
    files = _sqlite_files(c)
    for path in files:
        assert DECLINE_TEXT.split()[0].encode() not in path.read_bytes()
    if files:
        assert any(t in b"".join(p.read_bytes() for p in files) for t in tails)
    closed = await c.close(approved.engagement)
    assert closed.purged_rows >= 3  # the reason, the organization's name and contact
    assert await _reasons(c) == {}
    after = b"".join(p.read_bytes() for p in _sqlite_files(c))
    assert not any(t in after for t in tails)


async def test_removing_an_organization_ends_its_cases(coord):
    c = coord
    await network(c)
    await c.add_provider("@p5:hs", ["training"], ["en"], ["US-CA"], capacity=3)
    await c.vouch("alpha", "@p5:hs")
    await c.vet("@p5:hs")
    proposed = await c.file_request("alpha", "o1", ["forensics"], ["en"], note="secret note")
    routed = await c.route(proposed.request)
    waiting = await c.file_request("alpha", "o1", ["forensics"], ["en"])  # stays open
    engaged = await c.file_request("alpha", "o1", ["training"], ["en"])
    match = await c.route(engaged.request)
    approval = await c.approve(match.proposal, "alpha")
    assert approval.engagement and routed.proposal

    removed = await c.remove_member("o1", "staff_removal", reason=REMOVAL_TEXT)
    assert set(removed.cancelled_requests) == {proposed.request, waiting.request}
    assert removed.closed_engagements == (approval.engagement,)
    assert routed.proposal in removed.cancelled_proposals
    assert removed.purged_rows >= 3  # the note, the name, the contact

    async with c.engine.connect() as conn:
        states = dict((await conn.execute(sa.select(requests.c.id, requests.c.state))).all())
        prop_state = (
            await conn.execute(
                sa.select(proposals.c.state).where(proposals.c.id == routed.proposal)
            )
        ).scalar_one()
        orgs = (
            await conn.execute(sa.select(sa.func.count()).where(requests.c.organization == "o1"))
        ).scalar_one()
        org_data = (
            await conn.execute(
                sa.select(sa.func.count()).where(sealed.c.owner == "o1", sealed.c.scope != "reason")
            )
        ).scalar_one()
    assert states[proposed.request] == states[waiting.request] == "refused"
    assert states[engaged.request] == "closed"
    assert prop_state == "cancelled" and orgs == 0 and org_data == 0

    staff = [
        m.content
        for m in await c.outbox.pending("!staff:hs")
        if m.content.get("org.dsx.staff", {}).get("kind") == "removal"
    ][-1]
    block = staff["org.dsx.staff"]
    assert (block["cancelled_requests"], block["closed_engagements"]) == (2, 1)
    assert block["withdrawn_proposals"] == 1
    assert "Requests cancelled: 2" in staff["body"] and REMOVAL_TEXT not in json.dumps(staff)
    partner = [
        m.content for m in await c.outbox.pending("partner:alpha") if "org.dsx.removal" in m.content
    ]
    assert len(partner) == 1 and proposed.request in partner[0]["body"]
    engagement_room = await c.outbox.pending(f"engagement:{approval.engagement}")
    assert "no longer part of the network" in engagement_room[-1].content["body"]
    assert REMOVAL_TEXT not in await _dump(c)
    with pytest.raises(DomainError):  # the organization can no longer file
        await c.file_request("alpha", "o1", ["forensics"], ["en"])


async def test_without_a_sealing_key_a_removal_still_happens(db_url, tmp_path):
    from coordinator.usecases import Coordinator
    from tests.coordinator.conftest import make_config

    c = await Coordinator.open(make_config(tmp_path), url=db_url, sealer=None)
    try:
        await c.add_provider("@p9:hs", ["training"], ["en"], capacity=1)
        removed = await c.remove_member("@p9:hs", "staff_removal", reason=REMOVAL_TEXT)
        assert removed.member == "@p9:hs"
        assert await _reasons(c) == {}
        notice = [
            m.content["body"]
            for m in await c.outbox.pending("!staff:hs")
            if m.content.get("org.dsx.staff", {}).get("kind") == "removal"
        ]
        assert "the reason was not stored" in notice[-1]
        assert REMOVAL_TEXT.split()[0] not in await _dump(c)
    finally:
        await c.aclose()
