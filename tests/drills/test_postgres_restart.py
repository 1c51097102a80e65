"""Drill: the coordinator runs on PostgreSQL, and PostgreSQL restarts mid-run, once cleanly
and once as a crash, while requests arrive. The run completes with every request answered
once, nothing lost and nothing posted twice.

The PostgreSQL is a private cluster of the drill's own; the machine's shared server is
never restarted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.drills.harness import (
    CoordinatorProcess,
    Ledger,
    PrivatePostgres,
    assert_answered_once,
    audit_verify,
    bot_joins,
    check_outbox,
    event_ids_by_room,
    make_network,
    request_command,
    room_history,
    seed_network,
    staff_kinds,
    until,
    write_config,
)
from tests.harness.components import require

pytestmark = [pytest.mark.synapse, pytest.mark.postgres, pytest.mark.drill]

ROOMS = 3
PER_WAVE = 3  # requests per room in each wave
DOWN_S = 3.0


async def test_postgres_restarts_mid_run(own_homeserver, tmp_path: Path):
    problem = PrivatePostgres.available()
    require(problem is None, f"a private PostgreSQL cluster: {problem}")
    started = time.monotonic()
    pg = PrivatePostgres()
    net = None
    proc = None
    ledger = None
    try:
        await pg.init()
        await pg.start()
        await pg.create_database("dsx")
        db_url = pg.sqlalchemy_url("dsx")
        net = await make_network(own_homeserver, tmp_path, ROOMS)
        config_path = tmp_path / "dsx.toml"
        config = write_config(
            config_path, hs=own_homeserver, data=tmp_path / "data", net=net, database_url=db_url
        )
        await seed_network(config, providers=2, capacity=50)
        ledger = Ledger(db_url)
        proc = CoordinatorProcess(config_path, tmp_path / "coordinator.log")
        commands: dict[str, list[str]] = {p.room: [] for p in net.partners}
        n = 0

        async def wave() -> None:
            async def one_room(p) -> None:
                nonlocal n
                for _ in range(PER_WAVE):
                    n += 1
                    commands[p.room].append(await p.member.command(p.room, request_command(p, n)))

            await asyncio.gather(*(one_room(p) for p in net.partners))

        def alive() -> None:
            assert proc.running, f"the coordinator died:\n{proc.tail()}"

        await proc.start()
        await bot_joins(net)
        # A clean restart, then a crash, each while a wave of requests arrives.
        for mode in ("fast", "immediate"):
            sending = asyncio.create_task(wave())
            await asyncio.sleep(0.5)
            await pg.restart(mode, down_for=DOWN_S)
            await sending
            alive()
        await wave()  # and after it, business as usual
        total = sum(len(c) for c in commands.values())

        async def all_done() -> bool:
            try:
                return (
                    await ledger.requests() == total
                    and await ledger.replies() == total
                    and await ledger.unsent() == 0
                )
            except OSError:
                return False

        async def describe() -> str:
            return f"{await ledger.summary()}\n{proc.tail(15)}"

        await until(all_done, "every request answered", 180, alive, describe=describe)
        assert await proc.stop() == 0, proc.tail()
        proc.assert_nothing_skipped()

        assert await ledger.proposals() == total
        rows = await ledger.outbox_rows()
        figures = check_outbox(rows)
        by_room = event_ids_by_room(rows)
        for p in net.partners:
            events = await room_history(p.member, p.room, net.bot)
            assert_answered_once(events, commands[p.room], by_room[p.room], p.handle)
        # A sync loop that failed while the database was away reports it once, not in a loop.
        kinds = staff_kinds(await ledger.notices())
        assert kinds in ([], ["recovered"], ["trouble", "recovered"]), kinds
        chain = await audit_verify(config_path)
        print(
            f"\npostgres restart drill: restarts={pg.restarts} (fast, immediate) down={DOWN_S}s "
            f"requests={total} {figures} staff_notices={kinds} audit=({chain}) duplicates=0 "
            f"took={time.monotonic() - started:.0f}s"
        )
    finally:
        if proc is not None:
            await proc.ensure_stopped()
        if ledger is not None:
            await ledger.aclose()
        if net is not None:
            await net.close()
        await pg.destroy()
