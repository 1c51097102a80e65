"""Drill: the second federated homeserver, where a partner lives, stops for 10 s while that
partner's requests and the bot's proposals are in flight. Once it is back, every request
has one proposal and one reply, seen from the partner's own server, and nothing came twice.
The bot's own homeserver stayed up, so the staff room hears of no trouble."""

from __future__ import annotations

import asyncio
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
    event_ids_by_room,
    make_network,
    request_command,
    room_history,
    seed_network,
    staff_kinds,
    until,
    write_config,
)

pytestmark = [pytest.mark.synapse, pytest.mark.drill]

OUTAGE_S = 10
BURST = 8  # requests per room around the outage


async def test_second_homeserver_down_10s_nothing_lost_nothing_twice(
    own_federation, tmp_path: Path
):
    hs1, hs2 = own_federation
    started = time.monotonic()
    # partner0 on the bot's server, partner1 on the second one (its room lives there too).
    net = await make_network(hs1, tmp_path, 2, member_homeservers=[hs1, hs2])
    near, far = net.partners
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    config_path = tmp_path / "dsx.toml"
    config = write_config(config_path, hs=hs1, data=tmp_path / "data", net=net, database_url=db_url)
    await seed_network(config, providers=2, capacity=50)
    ledger = Ledger(db_url)
    proc = CoordinatorProcess(config_path, tmp_path / "coordinator.log")
    commands: dict[str, list[str]] = {p.room: [] for p in net.partners}
    n = 0

    async def send(p, count: int) -> None:
        nonlocal n
        for _ in range(count):
            n += 1
            commands[p.room].append(await p.member.command(p.room, request_command(p, n)))

    def alive() -> None:
        assert proc.running, f"the coordinator died:\n{proc.tail()}"

    try:
        await proc.start()
        await bot_joins(net)
        # In flight: the far partner's burst is still crossing federation, and the bot is
        # answering it, when the far server stops.
        await send(far, BURST)
        await asyncio.sleep(0.3)
        await hs2.stop()
        down_at = time.monotonic()
        await send(near, BURST)  # the bot's own server keeps working meanwhile
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        answered_while_down = await ledger.replies()
        await hs2.start()
        await send(far, BURST // 2)  # and the far partner carries on
        total = sum(len(c) for c in commands.values())

        async def all_done() -> bool:
            return (
                await ledger.requests() == total
                and await ledger.replies() == total
                and await ledger.unsent() == 0
            )

        async def describe() -> str:
            return f"{await ledger.summary()}\n{proc.tail(15)}"

        await until(all_done, "every request answered", 180, alive, describe=describe)
        assert await proc.stop() == 0, proc.tail()
        proc.assert_nothing_skipped()

        rows = await ledger.outbox_rows()
        figures = check_outbox(rows)
        by_room = event_ids_by_room(rows)
        caught_up: dict[str, float] = {}
        for p in net.partners:
            # The far partner reads its room from its own server, after the outage.
            t0 = time.monotonic()
            events = await room_history(
                p.member, p.room, net.bot, timeout=120, expect=len(by_room[p.room])
            )
            caught_up[p.handle] = round(time.monotonic() - t0, 1)
            assert_answered_once(events, commands[p.room], by_room[p.room], p.handle)
        kinds = staff_kinds(await ledger.notices())
        assert "trouble" not in kinds  # the bot's own homeserver never failed
        chain = await audit_verify(config_path)
        print(
            f"\nfederation outage drill: outage={OUTAGE_S}s requests={total} "
            f"answered_while_down={answered_while_down} caught_up_s={caught_up} {figures} "
            f"audit=({chain}) "
            f"duplicates=0 took={time.monotonic() - started:.0f}s"
        )
    finally:
        await proc.ensure_stopped()
        await ledger.aclose()
        await net.close()
