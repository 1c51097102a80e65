"""Two real coordinator processes on one PostgreSQL: no request is routed twice, no
provider goes over capacity, and no outbox row is claimed twice."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

import sqlalchemy as sa

from coordinator.sealing import PublicSealer, generate_keypair
from coordinator.store.outbox import SENT
from coordinator.store.schema import outbox, proposals
from coordinator.usecases import Coordinator
from tests.coordinator.conftest import make_config, network

REQUESTS = 24
PROVIDERS = 8
CAPACITY = 2


async def _setup(url: str, tmp_path) -> None:
    sealer = PublicSealer(generate_keypair().public)
    c = await Coordinator.open(make_config(tmp_path), url=url, sealer=sealer)
    try:
        await network(c)
        # Filed before the providers join, so each is unmatched: both processes then
        # contend to route every one of them.
        for _ in range(REQUESTS):
            await c.file_request("alpha", "o1", ["malware"], ["en"])
        for i in range(PROVIDERS):
            provider = f"@r{i}:hs"
            await c.add_provider(provider, ["malware"], ["en"], ["US-CA"], capacity=CAPACITY)
            await c.vouch("alpha", provider)
            await c.vet(provider)
    finally:
        await c.aclose()


async def _start(url: str, tmp_path, name: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.coordinator.race_worker",
        url,
        str(tmp_path),
        name,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def test_two_processes_route_and_deliver_once(postgres_url, tmp_path):
    await _setup(postgres_url, tmp_path)
    workers = [await _start(postgres_url, tmp_path, name) for name in ("a", "b")]
    for worker in workers:
        line = await asyncio.wait_for(worker.stdout.readline(), 60)
        assert line.strip() == b"ready"
    for worker in workers:  # release both at once
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    reports = []
    for worker in workers:
        out, _ = await asyncio.wait_for(worker.communicate(), 120)
        assert worker.returncode == 0
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))

    routed = [p for r in reports for p in r["routed"]]
    claimed = [m for r in reports for m in r["claimed"]]
    engine_url = postgres_url
    c = await Coordinator.open(make_config(tmp_path), url=engine_url)
    try:
        async with c.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(proposals.c.id, proposals.c.request, proposals.c.provider)
                )
            ).all()
            sent = (
                (await conn.execute(sa.select(outbox.c.id).where(outbox.c.state == SENT)))
                .scalars()
                .all()
            )
            total = (await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar()
    finally:
        await c.aclose()
    assert len(rows) == PROVIDERS * CAPACITY  # every free slot used once, no more
    assert Counter(r.request for r in rows).most_common(1)[0][1] == 1
    assert max(Counter(r.provider for r in rows).values()) == CAPACITY
    assert sorted(routed) == sorted(r.id for r in rows)
    assert len(claimed) == len(set(claimed)) == len(sent) == total
