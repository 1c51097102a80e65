"""Drill: the homeserver goes down while the coordinator runs and the outbox fills up behind
it. Once it is back, every queued message goes out once, in its room's order, and the staff
room hears about the outage once and about the recovery once, not in a loop.

``DRILL_OUTAGE_SECONDS`` lengthens the outage (for example to 60 for a minute-long outage)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from coordinator.domain import Urgency
from coordinator.store.outbox import partner_address
from coordinator.usecases import Coordinator
from tests.drills.harness import (
    REGION,
    SKILLS,
    STAFF,
    CoordinatorProcess,
    Ledger,
    audit_verify,
    bot_joins,
    check_outbox,
    duplicated_contents,
    event_ids_by_room,
    make_network,
    request_command,
    room_history,
    seed_network,
    staff_kinds,
    until,
    write_config,
)
from tests.workflow.harness import REPLY

pytestmark = [pytest.mark.synapse, pytest.mark.drill]

ROOMS = 3
OUTAGE_S = float(os.environ.get("DRILL_OUTAGE_SECONDS", "20"))


async def test_homeserver_outage_backlog_goes_out_in_order_once(own_homeserver, tmp_path: Path):
    hs = own_homeserver
    started = time.monotonic()
    net = await make_network(hs, tmp_path, ROOMS)
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    config_path = tmp_path / "dsx.toml"
    config = write_config(config_path, hs=hs, data=tmp_path / "data", net=net, database_url=db_url)
    await seed_network(config, providers=2, capacity=50)
    ledger = Ledger(db_url)
    proc = CoordinatorProcess(config_path, tmp_path / "coordinator.log")

    def alive() -> None:
        assert proc.running, f"the coordinator died:\n{proc.tail()}"

    try:
        await proc.start()
        await bot_joins(net)
        # Before the outage: each room has a working exchange (keys shared both ways).
        for i, p in enumerate(net.partners):
            reply = await p.member.ask(p.room, net.bot, request_command(p, i))
            assert reply[REPLY]["ok"], reply.get("body")

        await hs.stop()
        down_at = time.monotonic()
        # Fill the outbox while the homeserver is away: requests filed and routed through
        # the core, on the running coordinator's database, each queuing a proposal.
        core = await Coordinator.open(config)
        filed: list[str] = []
        try:
            while time.monotonic() - down_at < OUTAGE_S * 0.75:
                p = net.partners[len(filed) % ROOMS]
                request = await core.file_request(
                    p.handle, p.org, (SKILLS,), ("en",), REGION, Urgency.NORMAL
                )
                routed = await core.route(request.request)
                assert routed.proposal, routed
                filed.append(request.request)
                await asyncio.sleep(0.2 * OUTAGE_S / 20)  # ~70 requests, whatever the length
        finally:
            await core.aclose()

        async def trouble_queued() -> bool:
            return "trouble" in staff_kinds(await ledger.notices())

        await until(trouble_queued, "the outage noticed", OUTAGE_S * 2, alive)
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        backlog = await ledger.unsent()
        assert backlog >= len(filed), (backlog, len(filed))
        outage = time.monotonic() - down_at
        await hs.start()
        back_at = time.monotonic()

        async def drained() -> bool:
            rows = await ledger.outbox_rows()
            recovered = "recovered" in staff_kinds(await ledger.notices())
            return recovered and all(r.state == "sent" for r in rows)

        await until(drained, "the backlog delivered and the recovery reported", 180, alive)
        drain = time.monotonic() - back_at
        await asyncio.sleep(5)  # a loop would report again by now
        alive()
        assert await proc.stop() == 0, proc.tail()
        proc.assert_nothing_skipped()

        rows = await ledger.outbox_rows()
        figures = check_outbox(rows)
        assert staff_kinds(await ledger.notices()) == ["trouble", "recovered"]
        by_room = event_ids_by_room(rows, {partner_address(p.handle): p.room for p in net.partners})
        proposals = 0
        for p in net.partners:
            events = await room_history(p.member, p.room, net.bot)
            # In order, each once: the room's timeline is the outbox's order, row for row.
            assert [s["event_id"] for s in events] == by_room[p.room], p.handle
            assert not duplicated_contents(events), p.handle
            proposals += sum(
                1 for s in events if (s["content"].get("org.dsx.proposal") or {}).get("request")
            )
        assert proposals == len(filed) + ROOMS
        staff_events = await room_history(net.staff, net.staff_room, net.bot)
        assert [s["event_id"] for s in staff_events] == by_room[net.staff_room]
        seen = [s["content"].get(STAFF, {}).get("kind") for s in staff_events]
        assert seen.count("trouble") == 1 and seen.count("recovered") == 1, seen
        assert seen.index("trouble") < seen.index("recovered")
        chain = await audit_verify(config_path)
        print(
            f"\noutage drill: outage={outage:.0f}s filed_during_outage={len(filed)} "
            f"backlog={backlog} drained_in={drain:.1f}s {figures} "
            f"staff_notices={seen.count('trouble')}+{seen.count('recovered')} "
            f"audit=({chain}) took={time.monotonic() - started:.0f}s"
        )
    finally:
        await proc.ensure_stopped()
        await ledger.aclose()
        await net.close()
