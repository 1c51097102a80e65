"""Outbox delivery with the outbox id as transaction id: a crash before mark_sent does not
post twice; references resolve; order holds."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from coordinator.store.clock import utcnow
from coordinator.store.engine import create_engine
from coordinator.store.migrate import migrate
from coordinator.store.outbox import Outbox, enqueue, ref
from partner_bots.delivery import Delivery
from partner_bots.render.notice import notice
from tests.matrix.conftest import MemoryRegistry, RecordingSink, bot_room

pytestmark = pytest.mark.synapse


async def test_crash_before_mark_sent_does_not_duplicate(
    homeserver, running_bots, partners, tmp_path: Path
):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    outbox = Outbox(engine)
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink)
    partner = await partners(homeserver)
    room = await bot_room(partner, bot, registry)
    tag = uuid.uuid4().hex[:6]
    try:
        async with engine.begin() as conn:
            now = utcnow()
            a = await enqueue(conn, room=room, kind="message", content=notice(f"A {tag}"), now=now)
            b = await enqueue(
                conn,
                room=room,
                kind="message",
                content=notice(f"B {tag}"),
                now=now,
                thread_of=ref(a),
            )
            c = await enqueue(
                conn, room=room, kind="reaction", content={"key": "✅"}, now=now, reply_to=ref(a)
            )
            d = await enqueue(
                conn, room=room, kind="message", content=notice(f"A2 {tag}"), now=now, edits=ref(a)
            )

        # Worker 1 sends A and "dies" before mark_sent (lease 0: reclaimable at once).
        (first,) = await outbox.claim("worker-1", limit=1, lease_seconds=0)
        assert first.id == a
        crashed = await bot.sender.send(room, "m.room.message", first.content, tx_id=first.id)

        # Worker 2 takes over and delivers everything, A again with the same tx id.
        delivery = Delivery(bot.sender, outbox, "worker-2")
        result = await delivery.deliver_once()
        assert result.sent == 4 and result.deferred == 0
        assert await outbox.event_id_of(a) == crashed.event_id
        assert await outbox.pending(room) == []
        ids = {m: await outbox.event_id_of(m) for m in (a, b, c, d)}

        def bot_events() -> list[dict]:
            return [
                s
                for s in partner.sources(room, bot.session.user_id)
                if s.get("type") in ("m.room.message", "m.reaction")
            ]

        await partner.sync_until(
            lambda: set(ids.values()) <= {s["event_id"] for s in bot_events()},
            timeout=60,
            what="all delivered events",
        )
        # Settle: one more sync must not bring a duplicate.
        await partner.sync(timeout_ms=500)
        events = bot_events()
        assert [s["content"].get("body") for s in events].count(f"A {tag}") == 1
        by_id = {s["event_id"]: s for s in events}
        assert by_id[ids[b]]["content"]["m.relates_to"]["event_id"] == ids[a]
        assert by_id[ids[b]]["content"]["m.relates_to"]["rel_type"] == "m.thread"
        assert by_id[ids[c]]["type"] == "m.reaction"
        assert by_id[ids[c]]["content"]["m.relates_to"]["event_id"] == ids[a]
        assert by_id[ids[d]]["content"]["m.relates_to"] == {
            "rel_type": "m.replace",
            "event_id": ids[a],
        }
        # Creation order is the order on the timeline.
        order = [s["event_id"] for s in events if s["event_id"] in ids.values()]
        assert order == [ids[m] for m in (a, b, c, d)]
    finally:
        await engine.dispose()


async def test_unresolved_reference_waits(tmp_path: Path):
    """A row whose referenced row is not sent yet waits (and its room behind it)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    outbox = Outbox(engine)

    class NeverSends:
        calls = 0

        async def send(self, *a, **kw):  # pragma: no cover - must not be reached
            NeverSends.calls += 1
            raise AssertionError("sent a message whose reference is unresolved")

    try:
        async with engine.begin() as conn:
            now = utcnow()
            await enqueue(
                conn,
                room="!r:x",
                kind="message",
                content=notice("x"),
                now=now,
                reply_to=ref("nope"),
            )
            await enqueue(conn, room="!r:x", kind="message", content=notice("y"), now=now)
        delivery = Delivery(NeverSends(), outbox, "w")  # type: ignore[arg-type]
        result = await delivery.deliver_once()
        assert result.sent == 0 and result.deferred == 2 and NeverSends.calls == 0
        assert [m.content["body"] for m in await outbox.pending("!r:x")] == ["x", "y"]
    finally:
        await engine.dispose()


async def test_engagement_room_then_its_first_message(
    homeserver, running_bots, partners, tmp_path: Path
):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    outbox = Outbox(engine)
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink)
    provider = await partners(homeserver, "provider")
    from partner_bots.workflow.rooms import EngagementRooms, WorkflowDelivery

    logical = f"engagement:e{uuid.uuid4().hex[:6]}"
    try:
        async with engine.begin() as conn:
            now = utcnow()
            create = await enqueue(
                conn,
                room=logical,
                kind="create_room",
                content={"name": "DSX engagement", "invite": [provider.user_id]},
                now=now,
            )
            hello = await enqueue(
                conn, room=logical, kind="message", content=notice("welcome"), now=now
            )
        rooms = EngagementRooms(bot.session)
        delivery = WorkflowDelivery(
            bot.sender, outbox, "w", engagement_rooms=rooms, idle_seconds=0.2
        )
        task = asyncio.create_task(delivery.run())
        try:

            async def done() -> None:
                while await outbox.pending():  # noqa: ASYNC110 - polling the database
                    await asyncio.sleep(0.1)

            await asyncio.wait_for(done(), 60)
        finally:
            delivery.stop()
            await task
        room_id = await outbox.event_id_of(create)
        assert room_id and room_id.startswith("!")
        # A retry after a crash (row not marked) finds the same room instead of a new one.
        assert await rooms.create(logical, {"invite": []}) == room_id
        assert await EngagementRooms(bot.session).resolve(logical) == room_id  # via the alias

        await provider.accept_invite(room_id)
        hello_id = await outbox.event_id_of(hello)
        await provider.sync_until(
            lambda: any(
                s["event_id"] == hello_id and s["content"].get("body") == "welcome"
                for s in provider.sources(room_id)
            ),
            what="the welcome notice",
        )
        assert provider.client.rooms[room_id].encrypted
    finally:
        await engine.dispose()
