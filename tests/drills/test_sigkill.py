"""Drill: SIGKILL the coordinator ten times at random moments while 200 requests arrive in
ten partner rooms. Every request ends with exactly one proposal and one reply, nothing is
posted twice, and the audit chain verifies."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from tests.drills.harness import (
    CoordinatorProcess,
    Ledger,
    assert_answered_once,
    audit_verify,
    bot_joins,
    check_outbox,
    duplicated_contents,
    elapsed_since,
    event_ids_by_room,
    make_network,
    proposals_by_thread,
    request_command,
    room_history,
    seed_network,
    until,
    write_config,
)

pytestmark = [pytest.mark.synapse, pytest.mark.drill]

ROOMS = 10
REQUESTS = 200
KILLS = 10


async def test_sigkill_ten_times_during_200_requests(own_homeserver, tmp_path: Path):
    started = time.monotonic()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    net = await make_network(own_homeserver, tmp_path, ROOMS)
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    config_path = tmp_path / "dsx.toml"
    config = write_config(
        config_path,
        hs=own_homeserver,
        data=tmp_path / "data",
        net=net,
        database_url=db_url,
    )
    await seed_network(config, providers=5, capacity=50)
    ledger = Ledger(db_url)
    proc = CoordinatorProcess(config_path, tmp_path / "coordinator.log")
    commands: dict[str, list[str]] = {p.room: [] for p in net.partners}
    at_kill: list[tuple[int, int, int]] = []
    timings: dict[str, float] = {"setup": elapsed_since(started)}
    try:
        mark = time.monotonic()
        await proc.start()
        timings["first_start"] = elapsed_since(mark)
        await bot_joins(net)
        timings["joins"] = elapsed_since(mark)
        mark = time.monotonic()

        per_wave = REQUESTS // KILLS // ROOMS  # requests per room in each wave
        n = 0

        async def wave() -> None:
            nonlocal n

            async def one_room(p) -> None:
                nonlocal n
                for _ in range(per_wave):
                    n += 1
                    commands[p.room].append(await p.member.command(p.room, request_command(p, n)))

            await asyncio.gather(*(one_room(p) for p in net.partners))

        for _ in range(KILLS):
            sending = asyncio.create_task(wave())
            # A random moment: while the wave arrives, or while the bot works through it.
            await asyncio.sleep(rng.uniform(0.2, 3.0))
            await proc.kill()
            at_kill.append((await ledger.requests(), await ledger.replies(), await ledger.sent()))
            await sending
            await proc.start()

        timings["waves"] = elapsed_since(mark)
        mark = time.monotonic()

        def alive() -> None:
            assert proc.running, f"the coordinator died:\n{proc.tail()}"

        async def all_done() -> bool:
            return (
                await ledger.requests() == REQUESTS
                and await ledger.replies() == REQUESTS
                and await ledger.unsent() == 0
            )

        async def describe() -> str:
            return f"{await ledger.summary()}\n{proc.tail(15)}"

        await until(
            all_done, "every request filed, answered and posted", 240, alive, describe=describe
        )
        timings["drain"] = elapsed_since(mark)
        mark = time.monotonic()
        assert await proc.stop() == 0, proc.tail()
        proc.assert_nothing_skipped()

        # -- the checks --------------------------------------------------------------------
        assert await ledger.proposals() == REQUESTS  # one proposal per request, no more
        rows = await ledger.outbox_rows()
        figures = check_outbox(rows)
        by_room = event_ids_by_room(rows)
        assert set(by_room) == {net.staff_room, *(p.room for p in net.partners)}
        posted = 0
        for p in net.partners:
            events = await room_history(p.member, p.room, net.bot)
            posted += len(events)
            sent = commands[p.room]
            assert len(sent) == REQUESTS // ROOMS
            assert_answered_once(events, sent, by_room[p.room], p.handle)
            assert sum(proposals_by_thread(events).values()) == len(sent), (
                "a proposal outside a request's thread"
            )
        staff_events = await room_history(net.staff, net.staff_room, net.bot)
        assert not duplicated_contents(staff_events)
        assert [s["event_id"] for s in staff_events] == by_room[net.staff_room]
        timings["checks"] = elapsed_since(mark)
        chain = await audit_verify(config_path)
        busy_kills = sum(1 for filed, answered, _ in at_kill if filed < REQUESTS or answered)
        print(
            f"\nsigkill drill: seed={seed} kills={proc.kills} starts={proc.starts} "
            f"requests={REQUESTS} rooms={ROOMS} posted={posted} {figures} "
            f"at_kill(filed, replied, sent)={at_kill} audit=({chain}) "
            f"duplicates=0 ready_after={proc.ready_after} timings={timings} "
            f"took={time.monotonic() - started:.0f}s"
        )
        assert proc.kills == KILLS and busy_kills == KILLS
    finally:
        await proc.ensure_stopped()
        await ledger.aclose()
        await net.close()
