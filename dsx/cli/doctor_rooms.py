"""``dsx doctor``'s "upgraded rooms" line: the configuration still names a room that was
upgraded (docs/operator.md, "Room upgrades"). The bot serves the replacement either way
(the mapping is in the database); the warning says which setting to edit."""

from __future__ import annotations

from coordinator import config as cfg
from coordinator.usecases.upgrades import stale_rooms
from dsx.cli.doctor import Result, Status, ok

NAME = "upgraded rooms"


async def check_upgraded_rooms(conf: cfg.Config) -> Result:
    from coordinator.store import create_engine
    from coordinator.store.upgrades import moved_rooms

    engine = create_engine(conf.database_url)
    try:
        async with engine.connect() as conn:
            moved = await moved_rooms(conn)
    finally:
        await engine.dispose()
    stale = stale_rooms(conf, moved)
    if not stale:
        return ok(NAME, f"the configuration names current rooms ({len(moved)} upgrade(s) followed)")
    first = stale[0]
    more = f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""
    return Result(
        NAME,
        Status.WARN,
        f"{first.where} names {first.old_room}, which was upgraded to {first.new_room}{more}; "
        "the bot serves the new room",
        "in "
        + ", ".join(f"{s.where} replace {s.old_room} with {s.new_room}" for s in stale)
        + f" ({conf.source})",
    )
