"""Staff actions from the dashboard run the way ``!dsx remove`` runs in the staff room:
the proposals posted in the rooms are edited (by the core), not only the rows behind them. On both
databases, without a homeserver (the outbox rows are what delivery would send)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from coordinator.store.schema import outbox
from coordinator.usecases.acting import Acting
from partner_bots.commands import BotTools
from partner_bots.workflow.staff_actions import WorkflowStaffActions
from tests.coordinator import conftest as core

# The core's fixtures: a Coordinator on each database with a sealing key and a fake clock.
clock, coord, network = core.clock, core.coord, core.network


@pytest.fixture
async def rooms_coord(db_url, tmp_path, clock):
    """The coordinator as ``dsx run`` builds it (the core queues the rooms' edits itself)."""
    c = await core.opened(db_url, tmp_path, clock)
    try:
        yield c
    finally:
        await c.aclose()


STAFF = Acting("@staff:hs", None, staff=True)
REASON = "repeatedly shared case files outside the engagement"


async def _edits(c) -> list[tuple[str, str]]:
    async with c.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.room, outbox.c.content).where(outbox.c.edits.is_not(None))
        )
        return [(room, json.dumps(content)) for room, content in rows]


async def test_a_removal_from_the_dashboard_edits_the_posted_proposal(rooms_coord):
    c = rooms_coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["en"], room="!alpha:hs")
    routed = filed
    assert routed.proposal and routed.provider
    before = await _edits(c)

    actions = WorkflowStaffActions(c, BotTools())
    removed = await actions.remove_member(routed.provider, "conduct", reason=REASON, by=STAFF)

    assert routed.proposal in removed.cancelled_proposals
    edits = [e for e in await _edits(c) if e not in before]
    assert edits, "the proposal posted in the partner room was not edited"
    # Where the copies went: the request's room, or another partner's default room.
    assert all(room in ("!alpha:hs", "partner:beta") for room, _ in edits)
    assert any("ancel" in body for _, body in edits)  # shown as cancelled
    assert not any(REASON in body for _, body in edits)  # the reason stays sealed
    async with c.engine.connect() as conn:
        text = json.dumps(
            [list(r) for r in (await conn.execute(sa.select(outbox.c.content))).all()]
        )
    assert REASON not in text


async def test_the_bare_use_case_edits_the_posts_too(coord):
    """The core owns the edits: the use case alone, as the CLI or a test calls it, edits
    every posted copy the same way (the adapter adds nothing)."""
    c = coord
    await network(c)
    routed = await c.file_request("alpha", "o1", ["forensics"], ["en"])
    before = await _edits(c)
    removed = await c.remove_member(routed.provider, "conduct", by=STAFF)
    assert routed.proposal in removed.cancelled_proposals
    edits = [e for e in await _edits(c) if e not in before]
    assert [room for room, _ in edits] == ["partner:alpha"]
    assert all('"status": "cancelled"' in body for _, body in edits)
