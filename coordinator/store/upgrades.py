"""Rooms followed through a Matrix room upgrade: which room replaced which.

The configuration keeps naming the old room until the operator edits it, so the mapping
lives here, and everything that addresses a room goes through it: a message queued for an
old room goes to its replacement (``redirect``), and a partner's configured rooms are read
through it on every start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.store.schema import room_upgrades

MAX_HOPS = 20  # an upgrade of an upgrade of …; a cycle cannot be recorded, this is a guard


async def moved_rooms(conn: AsyncConnection) -> dict[str, str]:
    """Every recorded upgrade, old room id → new room id."""
    rows = await conn.execute(sa.select(room_upgrades.c.old_room, room_upgrades.c.new_room))
    return {r.old_room: r.new_room for r in rows}


def follow(moved: Mapping[str, str], room: str) -> str:
    """The room that replaces ``room`` now (itself when it was never upgraded)."""
    for _ in range(MAX_HOPS):
        if room not in moved:
            break
        room = moved[room]
    return room


async def current_room(conn: AsyncConnection, room: str) -> str:
    """``follow`` against the database; addresses that are not room ids pass through."""
    if not room.startswith("!"):
        return room
    for _ in range(MAX_HOPS):
        found = (
            await conn.execute(
                sa.select(room_upgrades.c.new_room).where(room_upgrades.c.old_room == room)
            )
        ).scalar_one_or_none()
        if found is None:
            break
        room = found
    return room


async def record(conn: AsyncConnection, old: str, new: str, kind: str, now: datetime) -> bool:
    """Record that ``new`` replaces ``old``; False if it was recorded already or would
    make a cycle (a room replacing one of its own predecessors)."""
    moved = await moved_rooms(conn)
    if old in moved or follow(moved, new) == old or old == new:
        return False
    await conn.execute(
        room_upgrades.insert().values(old_room=old, new_room=new, kind=kind, upgraded_at=now)
    )
    return True


def detached(content: Mapping[str, Any]) -> dict[str, Any]:
    """A message written for the old room, as it reads in the new one: its relations point
    at events of the old room, so it goes without them (an edit as the new text)."""
    out = dict(content)
    out.pop("m.relates_to", None)
    new = out.pop("m.new_content", None)
    if isinstance(new, dict):
        out = {k: v for k, v in new.items() if k != "m.relates_to"}
    return out
