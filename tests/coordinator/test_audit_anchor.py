"""The audit anchor: the chain's head goes to the staff room (through the outbox), on demand
and daily, with the count and hash only, and the anchor it shows catches a later
truncation."""

from __future__ import annotations

import asyncio
import re

import sqlalchemy as sa

from coordinator import audit
from coordinator.config import Config
from coordinator.store.schema import audit_log
from coordinator.usecases import Coordinator
from tests.coordinator.conftest import network
from tests.harness.notices import rendered

STAFF_ROOM = "!staff:hs"
PEOPLE = ("@staff:hs", "@ann:hs", "@bob:hs", "@gil:hs", "@p1:hs", "@p2:hs", "Canary", "canary@")


async def _anchor_notices(c) -> list[dict]:
    return [
        rendered(m)
        for m in await c.outbox.pending(STAFF_ROOM)
        if rendered(m).get("org.dsx.staff", {}).get("kind") == "audit_anchor"
    ]


def _anchor_in(body: str) -> audit.Anchor:
    found = re.search(r"dsx audit verify --anchor (\S+)", body)
    assert found is not None, body
    return audit.Anchor.parse(found[1])


async def test_the_anchor_notice_names_count_and_hash_only_and_catches_truncation(coord):
    c = coord
    await network(c)
    head = await audit.head(c.engine)
    result = await c.anchor_audit(actor="@staff:hs", event_id="$anchor1")
    assert (result.posted, result.count, result.hash) == (True, head.count, head.hash)

    [content] = await _anchor_notices(c)
    body = content["body"]
    assert f"{head.count} entries" in body and head.hash in body
    assert content["org.dsx.staff"] == {
        "kind": "audit_anchor",
        "count": head.count,
        "hash": head.hash,
    }
    assert content["m.mentions"] == {"user_ids": []}
    for person in PEOPLE:  # not who asked, nobody at all
        assert person not in str(content)
    # The anchor is copy-pasteable, and it is the chain's head at the time.
    anchor = _anchor_in(body)
    assert anchor == head
    # The anchoring itself is audited (after the head it names), and the chain verifies.
    [last] = await audit.entries(c.engine, after=head.count)
    assert (last.action, last.actor, last.data["count"]) == (
        "audit.anchored",
        "@staff:hs",
        head.count,
    )
    assert await audit.verify(c.engine, c.audit_key, anchor) is None

    # The same command event again: no second notice.
    again = await c.anchor_audit(actor="@staff:hs", event_id="$anchor1")
    assert again == result and len(await _anchor_notices(c)) == 1

    # Someone deletes the newest entries: the chain alone still looks whole, the anchor not.
    async with c.engine.begin() as conn:
        await conn.execute(sa.delete(audit_log).where(audit_log.c.seq > head.count - 3))
    assert await audit.verify(c.engine, c.audit_key) is None
    broken = await audit.verify(c.engine, c.audit_key, anchor)
    assert broken == audit.BrokenLink(head.count - 2, "missing")


async def test_the_daily_anchor_waits_a_day_and_for_new_entries(coord, clock):
    c = coord
    # The partners were just registered: the first anchor is due a day after that.
    assert not (await c.anchor_audit_if_due()).posted
    clock.advance(hours=23)
    assert not (await c.anchor_audit_if_due()).posted
    clock.advance(hours=2)
    first = await c.anchor_audit_if_due()
    [notice] = await _anchor_notices(c)
    assert first.posted and notice["org.dsx.staff"]["count"] == first.count
    # A restart soon after does not post again.
    clock.advance(hours=1)
    assert not (await c.anchor_audit_if_due()).posted
    # A day on with nothing written since: nothing new to anchor.
    clock.advance(days=2)
    assert not (await c.anchor_audit_if_due()).posted
    await c.add_provider("@p9:hs", ["forensics"], ["en"])
    second = await c.anchor_audit_if_due()
    assert second.posted and second.count > first.count
    assert len(await _anchor_notices(c)) == 2
    assert (
        await audit.verify(c.engine, c.audit_key, audit.Anchor(second.count, second.hash)) is None
    )


async def test_without_a_staff_room_nothing_is_posted(db_url, tmp_path, clock):
    c = await Coordinator.open(Config(data_dir=str(tmp_path)), url=db_url, clock=clock)
    try:
        await c.add_provider("@p9:hs", ["forensics"], ["en"])
        clock.advance(days=3)
        assert not (await c.anchor_audit_if_due()).posted
        assert await c.outbox.pending(STAFF_ROOM) == []
    finally:
        await c.aclose()


async def test_the_service_job_wakes_delivery_only_when_it_posts(coord, clock):
    """The periodic job `dsx run` starts (dsx/service.py): it runs hourly,
    posts once a day, and wakes delivery so the anchor goes out at once."""
    from dsx.service import _anchor_audit

    woken: list[int] = []
    await _anchor_audit(coord, lambda: woken.append(1))
    assert woken == [] and await _anchor_notices(coord) == []
    clock.advance(days=1, minutes=1)
    await _anchor_audit(coord, lambda: woken.append(1))
    await _anchor_audit(coord, lambda: woken.append(1))
    assert woken == [1] and len(await _anchor_notices(coord)) == 1


async def test_two_processes_due_at_once_post_one_anchor(coord, clock, db_url, tmp_path):
    from tests.coordinator.conftest import make_config

    other = await Coordinator.open(make_config(tmp_path), url=db_url, clock=clock)
    try:
        assert other.audit_key == coord.audit_key  # the same key file
        clock.advance(days=2)
        results = await asyncio.gather(coord.anchor_audit_if_due(), other.anchor_audit_if_due())
        assert sorted(r.posted for r in results) == [False, True]
        assert len(await _anchor_notices(coord)) == 1
        assert await audit.verify(coord.engine, coord.audit_key) is None
    finally:
        await other.aclose()
