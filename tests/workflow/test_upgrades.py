"""Room upgrades in process (docs/operator.md, "Room upgrades"): the follower over the real
coordinator on both databases. Who may move a room, what moves with it, what survives a
restart with the old configuration, and what ``dsx doctor`` says. The same on a real
Synapse with its room upgrade API is tests/workflow/test_upgrades_synapse.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa

from coordinator.config import DatabaseConfig, StaffConfig
from coordinator.store import schema
from coordinator.store.outbox import enqueue
from dsx.cli.doctor import Status
from dsx.cli.doctor_rooms import check_upgraded_rooms
from partner_bots.render.notifications.staff import staff as staff_notice
from partner_bots.sending import Sender, SendError
from partner_bots.upgrades import MovedRooms, RoomUpgrade, UpgradeFollower
from partner_bots.workflow.directory import Directory
from tests.harness.notices import rendered
from tests.workflow.test_room_rules import (
    ALPHA,
    ANN,
    BETA,
    BOB,
    MALLORY,
    STAFF,
    STAFF_ROOM,
    audit_actions,
    clock,
    coord,
    network,
)

__all__ = ["clock", "coord"]  # fixtures

NEW_ALPHA, NEW_STAFF = "!alpha-v2:hs", "!staff-v2:hs"


def follower_for(c: Any) -> tuple[UpgradeFollower, Directory, MovedRooms]:
    directory = Directory(c.engine, c.config)
    moved = MovedRooms()
    directory.moved = moved.moved
    return UpgradeFollower(c, directory, moved), directory, moved


def upgrade(old: str, new: str, sender: str, n: int = 1) -> RoomUpgrade:
    return RoomUpgrade(old, new, sender, f"$tombstone-{old}-{new}-{n}")


async def rows(c: Any, table: sa.Table, *where: Any) -> list[Any]:
    async with c.engine.connect() as conn:
        return list((await conn.execute(sa.select(table).where(*where))).all())


async def queue(c: Any, room: str, content: dict[str, Any], **kw: Any) -> str:
    async with c.engine.begin() as conn:
        return await enqueue(
            conn, room=room, kind="message", content=content, now=c.ctx.clock(), **kw
        )


async def test_a_partner_room_upgraded_by_its_member_is_followed(coord):
    c = coord
    await network(c)
    follower, directory, _moved = follower_for(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["en"], room=ALPHA)
    waiting = await queue(
        c,
        ALPHA,
        {"body": "a reply", "m.relates_to": {"m.in_reply_to": {"event_id": "$cmd"}}},
        thread_of="$root",
    )

    assert await follower(upgrade(ALPHA, NEW_ALPHA, ANN))

    (alpha,) = await rows(c, schema.partners, schema.partners.c.handle == "alpha")
    assert list(alpha.rooms) == [NEW_ALPHA]
    assert (await directory.partner_of_room(NEW_ALPHA)).handle == "alpha"
    assert await directory.is_registered(NEW_ALPHA)
    (req,) = await rows(c, schema.requests, schema.requests.c.id == filed.request)
    assert req.room == NEW_ALPHA  # answered in the new room
    # What was waiting for the old room goes to the new one, without relations into it.
    (row,) = await rows(c, schema.outbox, schema.outbox.c.id == waiting)
    assert row.room == NEW_ALPHA and row.thread_of is None
    assert "m.relates_to" not in row.content and row.content["body"] == "a reply"
    # And so does anything queued for the old room from now on.
    later = await queue(c, ALPHA, {"body": "later"})
    (row,) = await rows(c, schema.outbox, schema.outbox.c.id == later)
    assert row.room == NEW_ALPHA
    assert not await rows(
        c, schema.outbox, schema.outbox.c.room == ALPHA, schema.outbox.c.state != "sent"
    )
    # Staff are told, with the setting to change.
    notices = [
        rendered(r)["body"]
        for r in await rows(c, schema.outbox, schema.outbox.c.room == STAFF_ROOM)
        if "upgraded" in rendered(r).get("body", "")
    ]
    assert len(notices) == 1
    assert ALPHA in notices[0] and NEW_ALPHA in notices[0] and '"alpha"' in notices[0]
    assert "room.upgraded" in await audit_actions(c)

    # A replay (or another account seeing it) records nothing twice.
    assert await follower(upgrade(ALPHA, NEW_ALPHA, ANN))
    assert len(await rows(c, schema.room_upgrades)) == 1


async def test_a_restart_with_the_old_configuration_keeps_the_new_room(coord):
    c = coord
    await network(c)
    follower, _directory, _moved = follower_for(c)
    assert await follower(upgrade(ALPHA, NEW_ALPHA, ANN))
    await c.sync_partners()  # what every start does with dsx.toml (still naming ALPHA)
    (alpha,) = await rows(c, schema.partners, schema.partners.c.handle == "alpha")
    assert list(alpha.rooms) == [NEW_ALPHA]
    loaded = await MovedRooms.load(c.engine)
    assert loaded.current(ALPHA) == NEW_ALPHA and ALPHA in loaded


@pytest.mark.parametrize(
    ("old", "new", "sender", "reason"),
    [
        (ALPHA, NEW_ALPHA, MALLORY, "not_allowed"),  # in the room, not listed, no power
        (ALPHA, NEW_ALPHA, BOB, "not_allowed"),  # another partner's member
        (ALPHA, NEW_ALPHA, STAFF, "not_allowed"),  # staff do not move a partner's room
        (ALPHA, BETA, ANN, "replacement_taken"),  # into another partner's room
        (ALPHA, STAFF_ROOM, ANN, "replacement_taken"),  # into the staff room
        (STAFF_ROOM, NEW_STAFF, ANN, "not_allowed"),  # the staff room, by a partner
    ],
)
async def test_an_upgrade_by_someone_else_or_into_another_room_is_refused(
    coord, old, new, sender, reason
):
    c = coord
    await network(c)
    follower, directory, moved = follower_for(c)
    before = {
        t.name: sorted(map(repr, await rows(c, t))) for t in (schema.partners, schema.requests)
    }
    staff_before = len(await rows(c, schema.outbox, schema.outbox.c.room == STAFF_ROOM))
    assert not await follower(upgrade(old, new, sender))
    after = {
        t.name: sorted(map(repr, await rows(c, t))) for t in (schema.partners, schema.requests)
    }
    assert after == before and not await rows(c, schema.room_upgrades) and not moved.moved
    assert directory.staff_room == STAFF_ROOM
    assert (await audit_actions(c))[-1] == "room.upgrade_refused"
    staff = await rows(c, schema.outbox, schema.outbox.c.room == STAFF_ROOM)
    assert len(staff) == staff_before + 1 and "not followed" in staff[-1].content["body"]


async def test_the_staff_room_upgraded_by_staff_is_followed(coord):
    c = coord
    await network(c)
    follower, directory, _moved = follower_for(c)
    assert await follower(upgrade(STAFF_ROOM, NEW_STAFF, STAFF))
    assert directory.staff_room == NEW_STAFF and directory.is_staff_room(NEW_STAFF)
    assert await directory.may_act_as_staff(NEW_STAFF, STAFF)
    assert not directory.is_staff_room(STAFF_ROOM)
    # The core still names the configured room; its notices reach the new one.
    async with c.engine.begin() as conn:
        await enqueue(
            conn,
            room=c.ctx.staff_room,
            kind="message",
            content=staff_notice("hello staff"),
            now=c.ctx.clock(),
        )
    assert not await rows(
        c, schema.outbox, schema.outbox.c.room == STAFF_ROOM, schema.outbox.c.state != "sent"
    )
    bodies = [
        rendered(r)["body"] for r in await rows(c, schema.outbox, schema.outbox.c.room == NEW_STAFF)
    ]
    assert "hello staff" in bodies
    assert any("[staff] room" in b for b in bodies)  # what to change in dsx.toml


async def test_an_old_room_is_closed_to_every_send():
    sender = Sender(session=None)  # type: ignore[arg-type]  # refused before any I/O
    sender.closed = MovedRooms({ALPHA: NEW_ALPHA})
    with pytest.raises(SendError) as refused:
        await sender.send(ALPHA, "m.room.message", {"body": "x"})
    assert refused.value.code == "DSX_ROOM_UPGRADED" and refused.value.permanent


async def test_doctor_names_the_setting_that_still_names_the_old_room(coord, db_url):
    c = coord
    await network(c)
    follower, _directory, _moved = follower_for(c)
    conf = dataclasses.replace(c.config, database=DatabaseConfig(url=db_url))
    assert (await check_upgraded_rooms(conf)).status is Status.OK
    assert await follower(upgrade(ALPHA, NEW_ALPHA, ANN))
    assert await follower(upgrade(STAFF_ROOM, NEW_STAFF, STAFF))
    result = await check_upgraded_rooms(conf)
    assert result.status is Status.WARN
    assert "partners.alpha.rooms replace !alpha:hs with !alpha-v2:hs" in result.fix
    assert "staff.room replace !staff:hs with !staff-v2:hs" in result.fix
    fixed = dataclasses.replace(
        conf,
        staff=StaffConfig(room=NEW_STAFF, members=conf.staff.members),
        partners=tuple(
            dataclasses.replace(p, rooms=(NEW_ALPHA,)) if p.handle == "alpha" else p
            for p in conf.partners
        ),
    )
    assert (await check_upgraded_rooms(fixed)).status is Status.OK


async def test_an_engagement_room_upgraded_by_the_partner_is_followed(coord):
    """An engagement room belongs to its routing partner (``Directory.partner_of_room``);
    its replacement is still the engagement's room, and nobody else may move it."""
    from partner_bots.upgrades import FollowMoved
    from tests.coordinator.test_ownership import open_engagement

    c = coord
    await network(c)
    engagement = await open_engagement(c)
    follower, directory, moved = follower_for(c)

    class Rooms:  # the bot's engagement rooms, recognised by their alias
        async def resolve(self, room: str) -> str | None:
            return "!eng:hs" if room == f"engagement:{engagement}" else None

        async def create(self, logical: str, content: dict[str, Any]) -> str:
            raise AssertionError("not created here")

        def engagement_of_room(self, room_id: str) -> str | None:
            return engagement if room_id == "!eng:hs" else None

    rooms = FollowMoved(Rooms(), moved)
    directory.engagement_of_room = rooms.engagement_of_room
    assert not await follower(upgrade("!eng:hs", "!eng-v2:hs", BOB, n=2))  # beta's member
    assert not moved.moved
    assert await follower(upgrade("!eng:hs", "!eng-v2:hs", ANN))
    assert rooms.engagement_of_room("!eng-v2:hs") == engagement
    assert (await directory.partner_of_room("!eng-v2:hs")).handle == "alpha"
    assert await rooms.resolve(f"engagement:{engagement}") == "!eng-v2:hs"
    (recorded,) = await rows(c, schema.room_upgrades)
    assert recorded.kind == "engagement"


async def test_a_replacement_the_operator_listed_first_is_still_followed(coord):
    """dsx.toml already names both rooms of alpha: the old one is dropped, once."""
    c = coord
    await network(c)
    await c.register_partner("alpha", [ALPHA, NEW_ALPHA], [ANN])
    follower, _directory, _moved = follower_for(c)
    assert await follower(upgrade(ALPHA, NEW_ALPHA, ANN))
    (alpha,) = await rows(c, schema.partners, schema.partners.c.handle == "alpha")
    assert list(alpha.rooms) == [NEW_ALPHA]
    # Beta's room cannot be moved onto alpha's new room.
    assert not await follower(upgrade(BETA, NEW_ALPHA, BOB))
