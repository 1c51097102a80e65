"""Rate limits and failures: Retry-After honoured, no spinning, trouble reported once."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from aiohttp import web

from partner_bots.backoff import Backoff
from partner_bots.client import BotClient, client_config
from partner_bots.events import IncomingMessage
from partner_bots.render.notice import notice
from partner_bots.sync import SyncLoop, Trouble
from tests.matrix.conftest import PICKLE_KEY, MemoryRegistry, RecordingSink, bot_room


def test_backoff_grows_is_jittered_and_never_zero():
    b = Backoff(base=0.5, cap=8.0)
    first = [b.delay(1) for _ in range(50)]
    assert all(0.25 <= d <= 0.5 for d in first)
    assert len(set(first)) > 1  # jitter
    assert all(4.0 <= b.delay(10) <= 8.0 for _ in range(20))  # capped
    assert all(d >= 3.0 for d in (b.delay(1, retry_after=3.0) for _ in range(20)))
    assert Backoff(base=0.0).delay(1) >= Backoff().floor


class _FakeHomeserver:
    """Answers /sync with 429 + Retry-After a few times, then succeeds."""

    def __init__(self, limited: int, retry_after: float):
        self.limited = limited
        self.retry_after = retry_after
        self.sync_times: list[float] = []

    async def sync(self, request: web.Request) -> web.Response:
        self.sync_times.append(time.monotonic())
        if len(self.sync_times) <= self.limited:
            return web.json_response(
                {"errcode": "M_LIMIT_EXCEEDED", "error": "slow down"},
                status=429,
                headers={"Retry-After": str(self.retry_after)},
            )
        await asyncio.sleep(0.2)  # a long-poll that returns nothing new
        return web.json_response({"next_batch": f"s{len(self.sync_times)}", "rooms": {}})

    async def keys_upload(self, request: web.Request) -> web.Response:
        return web.json_response({"one_time_key_counts": {"signed_curve25519": 50}})


class _FakeSession:
    def __init__(self, client: BotClient):
        self.client = client
        self.user_id = client.user
        self.crypto_lock = asyncio.Lock()


async def test_sync_honours_retry_after_and_reports_trouble_once(tmp_path: Path):
    fake = _FakeHomeserver(limited=3, retry_after=0.6)
    app = web.Application()
    app.router.add_get("/_matrix/client/v3/sync", fake.sync)
    app.router.add_post("/_matrix/client/v3/keys/upload", fake.keys_upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = BotClient(
        f"http://127.0.0.1:{port}",
        "@bot:fake",
        device_id="DEV",
        store_path=str(tmp_path),
        config=client_config(PICKLE_KEY),
    )
    client.restore_login("@bot:fake", "DEV", "token")
    troubles: list[Trouble] = []
    recovered: list[bool] = []

    async def on_trouble(t: Trouble) -> None:
        troubles.append(t)

    async def on_recovered() -> None:
        recovered.append(True)

    loop = SyncLoop(
        _FakeSession(client),  # type: ignore[arg-type]
        RecordingSink(),
        on_trouble=on_trouble,
        on_recovered=on_recovered,
        backoff=Backoff(base=0.05, cap=0.1),
        trouble_after=2,
        long_poll_ms=200,
    )
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(loop.synced.wait(), 20)
        await asyncio.wait_for(_until(lambda: len(fake.sync_times) >= 6), 20)
    finally:
        loop.stop()
        await asyncio.wait_for(task, 10)
        await client.close()
        await runner.cleanup()
    gaps = [b - a for a, b in zip(fake.sync_times, fake.sync_times[1:], strict=False)]
    # Every retry after a 429 waited at least Retry-After (not the 0.1 s backoff cap).
    assert all(g >= 0.6 for g in gaps[:3]), gaps
    assert len(troubles) == 1 and troubles[0].last_error == "M_LIMIT_EXCEEDED"
    assert recovered == [True]
    assert loop.failures == 0
    # The sync token was saved by us after the batch.
    assert client.store is not None and client.store.load_sync_token() is not None


@pytest.mark.synapse
async def test_delivery_waits_out_429_in_order(
    limited_homeserver, running_bots, partners, tmp_path: Path
):
    from coordinator.store.clock import utcnow
    from coordinator.store.engine import create_engine
    from coordinator.store.migrate import migrate
    from coordinator.store.outbox import Outbox, enqueue
    from partner_bots.delivery import Delivery

    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    outbox = Outbox(engine)
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(limited_homeserver, registry, sink)
    partner = await partners(limited_homeserver)
    room = await bot_room(partner, bot, registry)

    class Recording(Outbox):
        def __init__(self, engine) -> None:
            super().__init__(engine)
            self.failures: list[tuple[str, float]] = []

        async def mark_failed(self, message_id: str, error_code: str, retry_after: float):
            self.failures.append((error_code, retry_after))
            await super().mark_failed(message_id, error_code, retry_after)

    recording = Recording(engine)
    try:
        async with engine.begin() as conn:
            ids = [
                await enqueue(
                    conn, room=room, kind="message", content=notice(f"m{i}"), now=utcnow()
                )
                for i in range(3)
            ]
        delivery = Delivery(bot.sender, recording, "w", idle_seconds=0.2)
        started = time.monotonic()
        task = asyncio.create_task(delivery.run())
        try:

            async def all_sent() -> None:
                while await outbox.pending(room):  # noqa: ASYNC110 - polling the database
                    await asyncio.sleep(0.1)

            await asyncio.wait_for(all_sent(), 60)
        finally:
            delivery.stop()
            await task
        elapsed = time.monotonic() - started
        limited = [r for code, r in recording.failures if code == "M_LIMIT_EXCEEDED"]
        assert limited, "expected the low-limit homeserver to rate-limit delivery"
        assert all(0 < r <= 10 for r in limited)  # the server's Retry-After, passed on
        assert elapsed >= min(limited)  # it waited at least what the server asked
        event_ids = [await outbox.event_id_of(i) for i in ids]
        assert all(event_ids) and len(set(event_ids)) == len(ids)
        # In creation order on the room's timeline.
        await partner.sync_until(
            lambda: set(event_ids) <= {s["event_id"] for s in partner.sources(room)},
            what="the delivered notices",
        )
        timeline = [s["event_id"] for s in partner.sources(room) if s["event_id"] in event_ids]
        assert timeline == event_ids
    finally:
        await engine.dispose()


@pytest.mark.synapse
async def test_homeserver_outage_is_survived_and_reported_once(
    limited_homeserver, running_bots, partners
):
    registry, sink = MemoryRegistry(), RecordingSink()
    troubles: list[Trouble] = []
    recovered: list[bool] = []

    async def on_trouble(t: Trouble) -> None:
        troubles.append(t)

    async def on_recovered() -> None:
        recovered.append(True)

    bot = await running_bots(
        limited_homeserver, registry, sink, on_trouble=on_trouble, on_recovered=on_recovered
    )
    bot.sync.trouble_after = 2
    bot.sync.backoff = Backoff(base=0.2, cap=1.0)
    partner = await partners(limited_homeserver)
    room = await bot_room(partner, bot, registry)

    await limited_homeserver.kill()
    deadline = time.monotonic() + 30
    while bot.sync.failures < 3:
        assert time.monotonic() < deadline, "the sync loop did not notice the outage"
        await asyncio.sleep(0.05)
    await limited_homeserver.start()

    text = f"after the outage {uuid.uuid4().hex[:6]}"
    await partner.send_text(room, text)
    await sink.wait_for(
        lambda: any(isinstance(e, IncomingMessage) and e.body == text for e in sink.events),
        timeout=60,
        what="the message sent after the restart",
    )
    assert len(troubles) == 1
    await asyncio.wait_for(_until(lambda: recovered == [True]), 30)
    assert bot.sync.failures == 0


async def _until(condition) -> None:
    """Poll state that other objects own; callers bound it with wait_for."""
    while not condition():  # noqa: ASYNC110 - no event to wait on; bounded by the caller
        await asyncio.sleep(0.05)
