"""One coordinator process of the two-process test: route every unmatched request, then
deliver the outbox, and print what it did as JSON. Started by test_two_processes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import sqlalchemy as sa

from coordinator.store.schema import requests
from coordinator.usecases import Coordinator
from tests.coordinator.conftest import make_config, route


async def main(url: str, data_dir: str, name: str) -> None:
    c = await Coordinator.open(make_config(Path(data_dir)), url=url)
    try:
        async with c.engine.connect() as conn:
            ids = list(
                (
                    await conn.execute(
                        sa.select(requests.c.id)
                        .where(requests.c.state == "unmatched")
                        .order_by(requests.c.id)
                    )
                ).scalars()
            )
        # Same order in both processes: they contend for every request.
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        routed = []
        for request_id in ids:
            result = await route(c, request_id)
            if result.created:
                routed.append(result.proposal)
        claimed = []
        while batch := await c.outbox.claim(name, limit=7):
            for message in batch:
                claimed.append(message.id)
                await c.outbox.mark_sent(message.id, f"$sent-by-{name}-{message.id}")
        print(json.dumps({"routed": routed, "claimed": claimed}), flush=True)
    finally:
        await c.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
