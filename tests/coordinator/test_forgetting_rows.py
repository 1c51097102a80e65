"""The core's decisions queue the Matrix side's forgetting in the same transaction
(coordinator/usecases/forgetting.py; docs/security.md, "What the Matrix side keeps"), on
both databases. tests/workflow/test_forgetting.py carries the rows out on real Synapse."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator import notifications as n
from coordinator.domain import DomainError
from coordinator.store.outbox import MAX_ATTEMPTS, WAITING, ref
from coordinator.store.schema import outbox
from coordinator.store.sealed import INTAKE_DETAILS
from coordinator.usecases.acting import Acting
from coordinator.usecases.forgetting import (
    REDACT_EVENT,
    ROOM_CLEANUP,
    RoomCleanup,
    cleanup_queue,
    redaction_id,
)
from tests.coordinator.conftest import network
from tests.harness.notices import notification, rendered


async def _rows(c, kind: str) -> list:
    async with c.engine.connect() as conn:
        found = await conn.execute(
            sa.select(outbox).where(outbox.c.kind == kind).order_by(outbox.c.seq)
        )
        return list(found.all())


async def _engaged(c, skill: str = "training") -> str:
    await network(c)
    filed = await c.file_request("alpha", "o1", [skill], ["en"])  # filing routes too
    assert filed.proposal
    approval = await c.approve(filed.proposal, "alpha")
    assert approval.engagement
    return approval.engagement


async def test_close_queues_the_cleanup_after_the_closing_notice(coord):
    c = coord
    engagement = await _engaged(c)
    await c.close(engagement)
    (row,) = await _rows(c, ROOM_CLEANUP)
    assert row.room == cleanup_queue(engagement)
    cleanup = RoomCleanup.of(row.content)
    assert (cleanup.redact, cleanup.leave, cleanup.remove) == (True, True, ("@p1:hs",))
    notice = (await c.outbox.pending(f"engagement:{engagement}"))[-1]
    assert isinstance(notification(notice), n.EngagementClosed)
    body = rendered(notice)["body"]  # as the room reads it
    assert "is closed" in body and "remove my messages" in body
    assert cleanup.keep == (ref(notice.id),)  # the closing notice is what stays


async def test_a_refused_close_queues_nothing(coord):
    c = coord
    engagement = await _engaged(c)
    with pytest.raises(DomainError):
        await c.close(engagement, by=Acting(user="@bob:hs", partner="beta"))
    assert await _rows(c, ROOM_CLEANUP) == []


async def test_removing_the_provider_removes_them_from_the_room_the_partner_keeps(coord):
    c = coord
    engagement = await _engaged(c)
    await c.remove_member("@p1:hs", "staff_removal")
    (row,) = await _rows(c, ROOM_CLEANUP)
    cleanup = RoomCleanup.of(row.content)
    assert row.room == cleanup_queue(engagement)
    assert (cleanup.redact, cleanup.leave, cleanup.remove) == (False, False, ("@p1:hs",))


async def test_removing_the_organization_closes_and_cleans_its_engagement_room(coord):
    c = coord
    engagement = await _engaged(c)
    await c.remove_member("o1", "staff_removal")
    (row,) = await _rows(c, ROOM_CLEANUP)
    cleanup = RoomCleanup.of(row.content)
    assert row.room == cleanup_queue(engagement)
    assert (cleanup.redact, cleanup.leave, cleanup.remove) == (True, True, ("@p1:hs",))


async def test_delivered_intake_details_are_redacted_once_after_their_window(coord, clock):
    c = coord
    now = clock()
    async with c.engine.begin() as conn:
        for row_id, state in (("d1", "sent"), ("d2", "pending")):
            await conn.execute(
                outbox.insert().values(
                    id=row_id,
                    room="intake:!alpha:hs",
                    kind=INTAKE_DETAILS,
                    content={"reference": row_id, "form": "request"},
                    created_at=now,
                    state=state,
                    attempts=0,
                    available_at=now,
                    event_id="$d1" if state == "sent" else None,
                )
            )
    await c.purge_delivered_intake()
    assert await _rows(c, REDACT_EVENT) == []  # within the 30 days
    clock.advance(days=31)
    await c.purge_delivered_intake()
    await c.purge_delivered_intake()
    (row,) = await _rows(c, REDACT_EVENT)  # once; an undelivered row has nothing to redact
    assert row.id == redaction_id("d1") and row.room == "intake:!alpha:hs"
    assert row.content == {"target": ref("d1")}


async def test_a_row_that_waits_for_other_work_spends_no_attempt(coord):
    """A cleanup waits for the room's messages (``wait:…``) as long as they take; a real
    failure still counts."""
    c = coord
    engagement = await _engaged(c)
    await c.close(engagement)
    (row,) = await _rows(c, ROOM_CLEANUP)
    for _ in range(MAX_ATTEMPTS + 3):
        claimed = [m for m in await c.outbox.claim("w", limit=50) if m.id == row.id]
        assert claimed, "the waiting row is handed out again"
        await c.outbox.mark_failed(row.id, WAITING + "room_messages", 0)
    (row,) = await _rows(c, ROOM_CLEANUP)
    assert (row.state, row.attempts) == ("pending", 0)
    await c.outbox.claim("w", limit=50)
    await c.outbox.mark_failed(row.id, "M_FORBIDDEN", 0)
    (row,) = await _rows(c, ROOM_CLEANUP)
    assert row.attempts == 1
