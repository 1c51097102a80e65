"""A registered room was upgraded (docs/operator.md, "Room upgrades"): from now on its
replacement is that room, in one transaction.

The mapping is recorded (``coordinator.store.upgrades``), so every message queued for the
old room from now on goes to the new one; the partner's registered rooms name the new
room; requests filed in the old room are answered in the new one; messages still waiting
for the old room are moved there, without their relations (threads and replies point at
events of the old room). Staff are told what to change in the configuration, which still
names the old room (``dsx doctor`` says so too, until it is changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from coordinator import notifications as n
from coordinator.config import Config
from coordinator.store import upgrades as store
from coordinator.store.outbox import SENT
from coordinator.store.schema import outbox, partners, requests
from coordinator.usecases.context import Context
from coordinator.usecases.unit import Tx

PARTNER, STAFF, ENGAGEMENT = "partner", "staff", "engagement"


@dataclass(frozen=True)
class RoomMoved:
    old_room: str
    new_room: str
    kind: str
    followed: bool  # False: this upgrade (or one of the old room) was recorded before
    moved_messages: int = 0
    moved_requests: int = 0


async def follow_room_upgrade(
    ctx: Context, tx: Tx, old: str, new: str, kind: str, partner: str | None = None
) -> RoomMoved:
    if not await store.record(tx.conn, old, new, kind, tx.now):
        return RoomMoved(old, new, kind, False)
    found = await tx.conn.execute(sa.select(partners.c.handle, partners.c.rooms))
    for row in found.all():
        if old in (row.rooms or ()):
            rooms = sorted({*row.rooms, new} - {old})
            await tx.conn.execute(
                partners.update().where(partners.c.handle == row.handle).values(rooms=rooms)
            )
    moved_requests = (
        await tx.conn.execute(requests.update().where(requests.c.room == old).values(room=new))
    ).rowcount
    waiting = await tx.conn.execute(
        sa.select(outbox.c.seq, outbox.c.content).where(
            outbox.c.room == old, outbox.c.state != SENT
        )
    )
    rows = waiting.all()
    for row in rows:
        await tx.conn.execute(
            outbox.update()
            .where(outbox.c.seq == row.seq)
            .values(
                room=new,
                content=store.detached(row.content),
                thread_of=None,
                reply_to=None,
                edits=None,
            )
        )
    tx.audit("room.upgraded", old, new_room=new, kind=kind, messages=len(rows))
    await tx.notify(n.StaffRoom(ctx.staff_room), n.RoomUpgraded(old, new, kind, partner))
    return RoomMoved(old, new, kind, True, len(rows), moved_requests or 0)


@dataclass(frozen=True)
class StaleRoom:
    """A room id the configuration still names although it was upgraded."""

    where: str  # the setting, as ``dsx doctor`` names it
    old_room: str
    new_room: str


def stale_rooms(config: Config, moved: Mapping[str, str]) -> list[StaleRoom]:
    out: list[StaleRoom] = []
    if config.staff.room in moved:
        out.append(
            StaleRoom("staff.room", config.staff.room, store.follow(moved, config.staff.room))
        )
    for partner in config.partners:
        for room in partner.rooms:
            if room in moved:
                out.append(
                    StaleRoom(f"partners.{partner.handle}.rooms", room, store.follow(moved, room))
                )
    return out
