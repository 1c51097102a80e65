"""A bot process for the crash test: echoes each message once, through inbox and outbox.

Run as ``python -m tests.matrix.echo_bot CONFIG.json``. ``echo_sink`` is also the floor of
the routing and load benchmarks (bench/_harness.py): the same machinery as the
coordinator (inbox, outbox, delivery) with no use case in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator import logs
from coordinator.store.clock import utcnow
from coordinator.store.engine import create_engine
from coordinator.store.inbox import Inbox, claim, lookup
from coordinator.store.outbox import Outbox, enqueue
from partner_bots.bot import Bot
from partner_bots.delivery import Delivery
from partner_bots.device_trust import DevicePolicy
from partner_bots.events import Incoming, IncomingMessage
from partner_bots.render.notice import notice
from partner_bots.session import BotAccount, on_sigterm

log = logs.get_logger(__name__)


async def run_bot(bot: Bot, delivery: Delivery | None = None, stop: asyncio.Event | None = None):
    """Run one bot and its delivery until SIGTERM/SIGINT, then stop gracefully: the event
    in hand finishes, delivery stops between messages, the session closes without logging
    out (the crash test's process; production runs through ``dsx.service``)."""
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


def echo_sink(
    engine: AsyncEngine,
    wake: Callable[[], None],
    text: Callable[[str], str] = "echo: ".__add__,
    *,
    blocks: Mapping[str, Any] | None = None,
    in_thread: bool = False,
) -> Callable[[Incoming], Awaitable[None]]:
    """Answer each message once: the inbox claim and the reply commit together.

    With ``in_thread`` (and ``blocks`` such as an empty proposal block) the answer has the
    shape of a proposal: in the request's thread, so the load benchmark's readers time it
    exactly as they time the coordinator's proposals.
    """

    async def echo(event: Incoming) -> None:
        if not isinstance(event, IncomingMessage):
            return
        async with engine.begin() as conn:
            handled, _ = await lookup(conn, event.event_id)
            if handled:
                return
            now = utcnow()
            await claim(conn, event.event_id, "echo", now)
            await enqueue(
                conn,
                room=event.room_id,
                kind="message",
                content={**notice(text(event.body)), **(blocks or {})},
                now=now,
                reply_to=event.event_id,
                thread_of=event.event_id if in_thread else None,
            )
        wake()

    return echo


class Rooms:
    """The rooms the echo bot serves (it joins them when invited)."""

    def __init__(self, rooms: Iterable[str]):
        self.rooms = frozenset(rooms)

    async def is_registered(self, room_id: str) -> bool:
        return room_id in self.rooms


async def main(cfg: dict) -> None:
    logs.setup("INFO")
    engine = create_engine(cfg["db_url"])
    delivery_ref: list[Delivery] = []

    # ``proposal``: answer in the request's thread with a proposal-shaped block (bench/load.py).
    shaped = bool(cfg.get("proposal"))
    echo = echo_sink(
        engine,
        lambda: delivery_ref[0].wake(),
        blocks={"org.dsx.proposal": {"echo": True}} if shaped else None,
        in_thread=shaped,
    )

    account = BotAccount(
        homeserver_url=cfg["homeserver_url"],
        user_id=cfg["user_id"],
        device_id=cfg["device_id"],
        store_path=Path(cfg["store_path"]),
        pickle_key=cfg["pickle_key"],
        password=cfg["password"],
    )
    bot = Bot(
        account,
        Rooms(cfg.get("rooms") or [cfg["room"]]),
        echo,
        long_poll_ms=int(cfg.get("long_poll_ms", 2_000)),
        inbox=Inbox(engine),
        device_policy=DevicePolicy.TOFU,  # its partner does not cross-sign
    )
    delivery = Delivery(bot.sender, Outbox(engine), "echo-worker", lease_seconds=5)
    delivery_ref.append(delivery)
    try:
        await run_bot(bot, delivery)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
