"""Run one bot (and its outbox delivery) until SIGTERM/SIGINT, then stop gracefully.

Graceful means: the long-poll is abandoned, the event being handled finishes (its
transaction commits or not, never half), delivery stops between messages, and the
session closes without logging out. SIGKILL is survivable too, by design elsewhere:
the sync token is saved only after a batch was handled, and sends reuse the outbox id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from coordinator.logs import get_logger
from partner_bots.bot import Bot
from partner_bots.delivery import Delivery
from partner_bots.session import on_sigterm

log = get_logger(__name__)


async def run_bot(bot: Bot, delivery: Delivery | None = None, stop: asyncio.Event | None = None):
    stop = stop or asyncio.Event()
    remove = on_sigterm(stop.set)
    task: asyncio.Task[None] | None = None
    try:
        await bot.start()
        # Rooms and their encryption state are known only after the first sync; a
        # SIGTERM while the homeserver is still unreachable must not wait for it.
        await _first(bot.sync.synced.wait(), stop.wait())
        if delivery is not None and not stop.is_set():
            task = asyncio.create_task(delivery.run(), name="delivery")
        log.info("runner.started")
        await stop.wait()
    finally:
        remove()
        if delivery is not None:
            delivery.stop()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await bot.stop()
        log.info("runner.stopped")


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
