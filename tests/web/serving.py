"""The real service with its dashboard, on a free loopback port, for the web tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from coordinator.config import Config
from dsx.service import Running, serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def _running(config: Config):
    """``serve`` with the dashboard on, until the block ends."""
    stop, ready = asyncio.Event(), asyncio.Event()
    box: list[Running] = []
    task = asyncio.create_task(serve(config, stop=stop, ready=ready, web=True, on_ready=box.append))
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=90, return_when="FIRST_COMPLETED")
    if task in done:
        waiter.cancel()
        task.result()
    assert waiter in done, "the coordinator did not become ready"
    try:
        yield box[0]
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
