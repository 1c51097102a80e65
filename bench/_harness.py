"""What the Matrix benchmarks share: the echo bot's round trip (the floor every routing
latency is compared with), percentiles, and proposals as a partner's client sees them.

Import it as ``bench._harness`` after putting the repository root first on ``sys.path``
(``bench/`` itself must stay off it: ``bench/coordinator.py`` would shadow the package).
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

from coordinator.store.engine import create_engine
from coordinator.store.inbox import Inbox
from coordinator.store.migrate import migrate
from coordinator.store.outbox import Outbox
from partner_bots.bot import Bot
from partner_bots.delivery import Delivery
from partner_bots.device_trust import DevicePolicy
from partner_bots.homeserver.synapse import Homeserver
from partner_bots.session import BotAccount
from tests.matrix.echo_bot import echo_sink
from tests.workflow.harness import PICKLE_KEY, PROPOSAL, Member, join_bot

WARMUP = 3


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1)}


class _Rooms:
    def __init__(self) -> None:
        self.rooms: set[str] = set()

    async def is_registered(self, room_id: str) -> bool:
        return room_id in self.rooms


async def echo_floor(hs_bot: Homeserver, user: Member, root: Path, n: int) -> list[float]:
    """The echo bot's round trip: Bot + inbox + outbox + delivery, nothing else."""
    url = f"sqlite+aiosqlite:///{root / 'echo.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    password = secrets.token_urlsafe(12)
    bot_user = await hs_bot.register(f"echo-{secrets.token_hex(3)}", password)
    deliveries: list[Delivery] = []

    echo = echo_sink(engine, lambda: deliveries[0].wake(), lambda _body: "echo")

    rooms = _Rooms()
    account = BotAccount(
        homeserver_url=hs_bot.base_url,
        user_id=bot_user.user_id,
        device_id="ECHO",
        store_path=root / "echo-store",
        pickle_key=PICKLE_KEY,
        password=password,
    )
    bot = Bot(account, rooms, echo, inbox=Inbox(engine), device_policy=DevicePolicy.TOFU)
    delivery = Delivery(bot.sender, Outbox(engine), "echo")
    deliveries.append(delivery)
    room = await user.create_encrypted_room(invite=[])
    rooms.rooms.add(room)
    await bot.start()
    task = asyncio.create_task(delivery.run())
    try:
        await join_bot(user, room, bot_user.user_id)
        samples = []
        for i in range(n + WARMUP):
            start = time.perf_counter()
            sent = await user.send_text(room, f"ping {i}")
            await user.wait_event(room, bot_user.user_id, lambda s, e=sent: _replies(s, e))
            if i >= WARMUP:
                samples.append((time.perf_counter() - start) * 1000)
        return samples
    finally:
        delivery.stop()
        await task
        await bot.stop()
        await engine.dispose()


def _replies(source: dict[str, Any], event_id: str) -> bool:
    rel = source.get("content", {}).get("m.relates_to") or {}
    return (rel.get("m.in_reply_to") or {}).get("event_id") == event_id


def proposals(user: Member, room: str, bot: str) -> list[dict[str, Any]]:
    return [
        s
        for s in user.from_user(room, bot)
        if PROPOSAL in s.get("content", {}) and "m.new_content" not in s["content"]
    ]
