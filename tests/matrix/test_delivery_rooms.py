"""Delivery sends to several rooms at once, and keeps each room's order (real outbox on
SQLite; the sender is a stand-in that takes time, as a homeserver round trip does)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from coordinator.store.clock import utcnow
from coordinator.store.engine import create_engine
from coordinator.store.migrate import migrate
from coordinator.store.outbox import Outbox, enqueue, ref
from partner_bots.delivery import Delivery
from partner_bots.render.notice import notice
from partner_bots.sending import SendError, Sent

ROOMS = ("!a:x", "!b:x", "!c:x")


class SlowSender:
    """Records the order of sends per room and how many were in flight at once."""

    def __init__(self, fail_body: str | None = None):
        self.fail_body = fail_body
        self.in_flight = 0
        self.most_in_flight = 0
        self.sent: dict[str, list[str]] = {}

    async def send(self, room_id: str, event_type: str, content: dict[str, Any], **kw) -> Sent:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            if content["body"] == self.fail_body:
                raise SendError("M_UNKNOWN", 30.0)
            self.sent.setdefault(room_id, []).append(content["body"])
            return Sent(f"$ev-{content['body']}", True)
        finally:
            self.in_flight -= 1


async def outbox_with_rows(tmp_path: Path) -> tuple[Any, Outbox]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        for i in range(3):
            for room in ROOMS:
                body = f"{room[1]}{i}"
                await enqueue(conn, room=room, kind="message", content=notice(body), now=utcnow())
    return engine, Outbox(engine)


async def test_rooms_are_delivered_concurrently_each_in_order(tmp_path: Path):
    engine, outbox = await outbox_with_rows(tmp_path)
    try:
        sender = SlowSender()
        result = await Delivery(sender, outbox, "w").deliver_once()  # type: ignore[arg-type]
        assert result.sent == 9 and result.deferred == 0
        assert sender.most_in_flight == len(ROOMS)  # one send per room at a time, rooms at once
        assert sender.sent == {r: [f"{r[1]}{i}" for i in range(3)] for r in ROOMS}
        assert await outbox.pending() == []
    finally:
        await engine.dispose()


async def test_a_failure_holds_its_room_only(tmp_path: Path):
    engine, outbox = await outbox_with_rows(tmp_path)
    try:
        sender = SlowSender(fail_body="b1")
        result = await Delivery(sender, outbox, "w").deliver_once()  # type: ignore[arg-type]
        assert result.sent == 7 and result.deferred == 2
        assert sender.sent["!b:x"] == ["b0"]  # b2 waits behind b1: never out of order
        assert sender.sent["!a:x"] == ["a0", "a1", "a2"] and sender.sent["!c:x"] == [
            "c0",
            "c1",
            "c2",
        ]
        assert [m.content["body"] for m in await outbox.pending("!b:x")] == ["b1", "b2"]
    finally:
        await engine.dispose()


async def test_a_row_threaded_on_another_rooms_row_of_the_batch_goes_after_it(tmp_path: Path):
    """An intake's details (their own queue) point at their notice in the partner room:
    sent in parallel, the details would find the notice unsent and wait a minute."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            # The dependent queue is created first, so creation order alone would not help.
            root = await enqueue(
                conn, room="!b:x", kind="message", content=notice("b0"), now=utcnow()
            )
            await enqueue(
                conn,
                room="!a:x",
                kind="message",
                content=notice("details"),
                now=utcnow(),
                thread_of=ref(root),
            )
            await enqueue(conn, room="!c:x", kind="message", content=notice("c0"), now=utcnow())
        outbox = Outbox(engine)
        sender = SlowSender()
        order: list[str] = []
        send = sender.send

        async def recording(room_id: str, event_type: str, content: dict[str, Any], **kw) -> Sent:
            sent = await send(room_id, event_type, content, **kw)
            order.append(content["body"])
            return sent

        sender.send = recording  # type: ignore[method-assign]
        result = await Delivery(sender, outbox, "w").deliver_once()  # type: ignore[arg-type]
        assert result.sent == 3 and result.deferred == 0  # nothing left waiting a minute
        assert order.index("b0") < order.index("details")
        assert await outbox.pending() == []
    finally:
        await engine.dispose()


async def test_a_notification_is_rendered_at_send_time_and_an_unknown_one_is_never_sent(
    tmp_path: Path,
):
    """A core notification goes out as its renderer's content; a row of a kind or schema
    version this code does not know is held back (its room waits), never sent raw."""
    from coordinator import notifications as n

    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    outbox = Outbox(engine)
    try:
        staff = n.StaffRoom("!a:x")
        row = n.encode(n.SlaEscalation(("r-1",)), staff)
        async with engine.begin() as conn:
            for room, content in (("!a:x", row), ("!b:x", {**row, "v": 99})):
                await enqueue(conn, room=room, kind=n.ROW_KIND, content=content, now=utcnow())
        sender = SlowSender()
        result = await Delivery(sender, outbox, "w").deliver_once()  # type: ignore[arg-type]
        assert result.sent == 1 and result.deferred == 1
        assert sender.sent == {"!a:x": ["Unacknowledged urgent requests past their window: r-1"]}
        [held] = await outbox.pending("!b:x")
        assert held.content["v"] == 99
    finally:
        await engine.dispose()
