"""Nothing lost across a restart (gapped timeline back-filled), and a fresh store ignores
history from before it existed."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy.exc import OperationalError

from partner_bots.backoff import Backoff
from partner_bots.events import IncomingMessage
from tests.matrix.conftest import MemoryRegistry, RecordingSink, bot_room

pytestmark = pytest.mark.synapse


def _bodies(sink: RecordingSink) -> list[str]:
    return [e.body for e in sink.events if isinstance(e, IncomingMessage)]


async def test_gap_after_restart_is_backfilled_in_order(homeserver, running_bots, partners):
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink)
    partner = await partners(homeserver)
    room = await bot_room(partner, bot, registry)
    await partner.send_text(room, "before")
    await sink.wait_for(lambda: _bodies(sink) == ["before"])
    await bot.stop()

    tag = uuid.uuid4().hex[:6]
    sent = [f"{tag} {i}" for i in range(8)]
    for body in sent:
        await partner.send_text(room, body)

    # Restart on the same store with a small timeline window: the first sync is gapped.
    again = RecordingSink()
    restarted = await running_bots(
        homeserver, registry, again, account=bot.session.account, timeline_limit=3
    )
    await again.wait_for(lambda: len(_bodies(again)) >= len(sent), what="all eight")
    assert _bodies(again) == sent  # all of them, in order, none twice, not "before"
    assert restarted.sync.backfilled >= len(sent) - 3  # the gap came through /messages


async def test_fresh_store_ignores_history(homeserver, running_bots, partners, tmp_path):
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink)
    partner = await partners(homeserver)
    room = await bot_room(partner, bot, registry)
    await partner.send_text(room, "old request")
    await sink.wait_for(lambda: _bodies(sink) == ["old request"])
    await bot.stop()

    # A new device with an empty store (e.g. a redeploy that lost its volume).
    fresh_account = dataclasses.replace(
        bot.session.account, device_id="DSXBOT2", store_path=tmp_path / "fresh-store"
    )
    fresh = RecordingSink()
    await running_bots(homeserver, registry, fresh, account=fresh_account)
    marker = f"new {uuid.uuid4().hex[:6]}"
    await partner.sync()
    await partner.send_text(room, marker)
    await fresh.wait_for(lambda: marker in _bodies(fresh), what="the new message")
    assert _bodies(fresh) == [marker]


async def test_failing_handler_is_retried_then_skipped_loudly(homeserver, running_bots, partners):
    registry = MemoryRegistry()
    attempts: dict[str, int] = {}

    class Flaky(RecordingSink):
        async def __call__(self, event) -> None:
            if isinstance(event, IncomingMessage) and event.body.startswith(("flaky", "poison")):
                attempts[event.body] = attempts.get(event.body, 0) + 1
                if event.body == "poison" or attempts[event.body] < 2:
                    raise RuntimeError("handler bug")
            await super().__call__(event)

    sink = Flaky()
    troubles = []

    async def on_trouble(t) -> None:
        troubles.append(t)

    bot = await running_bots(homeserver, registry, sink, on_trouble=on_trouble)
    partner = await partners(homeserver)
    room = await bot_room(partner, bot, registry)
    await partner.send_text(room, "flaky")
    await sink.wait_for(lambda: "flaky" in _bodies(sink), what="the flaky message, retried")
    await partner.send_text(room, "poison")
    await partner.send_text(room, "after")
    await sink.wait_for(lambda: "after" in _bodies(sink), what="the message after the poison")
    assert attempts == {"flaky": 2, "poison": 3}
    assert "poison" not in _bodies(sink)
    assert [t.last_error for t in troubles] == ["handler_failed"]


async def test_a_database_outage_is_waited_out_never_skipped(homeserver, running_bots, partners):
    """More failures than a poison event gets, but each says the database is away: the
    event is retried until it is handled, not skipped (that would lose a request)."""
    registry = MemoryRegistry()
    attempts: dict[str, int] = {}

    class DatabaseDown(RecordingSink):
        async def __call__(self, event) -> None:
            if isinstance(event, IncomingMessage) and event.body == "request":
                attempts["request"] = attempts.get("request", 0) + 1
                if attempts["request"] <= 5:
                    try:
                        raise ConnectionRefusedError(111, "Connect call failed")
                    except OSError as exc:
                        raise OperationalError("INSERT", {}, exc) from exc
            await super().__call__(event)

    sink = DatabaseDown()
    bot = await running_bots(homeserver, registry, sink)
    bot.sync.backoff = Backoff(base=0.05, cap=0.2)
    partner = await partners(homeserver)
    room = await bot_room(partner, bot, registry)
    await partner.send_text(room, "request")
    await sink.wait_for(lambda: "request" in _bodies(sink), what="the request, once back")
    assert attempts["request"] == 6
