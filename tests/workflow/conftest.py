"""One coordinator on two federated homeservers, shared by the workflow tests of a module:
partner alpha (room on the first server), partner beta (room on the second), a staff room."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.conftest import POSTGRES_URL
from tests.harness.components import require
from tests.harness.postgres import PostgresServer
from tests.workflow.harness import (
    Coordinator,
    Member,
    PartnerSpec,
    join_bot,
    knows_devices,
    make_config,
    start_coordinator,
)


@dataclass
class World:
    coordinator: Coordinator
    ann: Member  # alpha, first server
    bea: Member  # beta, second server
    staff: Member
    mallory: Member  # in alpha's room, not listed, no power
    providers: dict[str, Member]
    room_a: str
    room_b: str
    room_s: str

    @property
    def bot(self) -> str:
        return self.coordinator.bot


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The story runs on the embedded store and on the production one."""
    if request.param == "sqlite":
        yield ""  # the default: a SQLite file in the data folder
        return
    server = PostgresServer(POSTGRES_URL)
    problem = await server.probe()
    require(problem is None, f"PostgreSQL at {POSTGRES_URL}: {problem}")
    name = f"dsx_workflow_{secrets.token_hex(6)}"
    await server.create_database(name)
    try:
        yield server.sqlalchemy_url(name)
    finally:
        await server.drop_database(name)


@pytest.fixture(scope="module")
async def world(
    request: pytest.FixtureRequest, federation, tmp_path_factory, database_url: str
) -> AsyncIterator[World]:
    """A module may set ``WORLD_POLICY`` (a PolicyConfig) for its coordinator."""
    hs1, hs2 = federation
    root = tmp_path_factory.mktemp("workflow")
    members: list[Member] = []

    async def member(hs, name: str) -> Member:
        m = await Member.create(hs, root / "clients", name)
        members.append(m)
        return m

    ann, bea, staff, mallory = (
        await member(hs1, "ann"),
        await member(hs2, "bea"),
        await member(hs1, "staff"),
        await member(hs1, "mallory"),
    )
    providers = {
        "p1": await member(hs2, "prov1"),
        "p2": await member(hs1, "prov2"),
        "p3": await member(hs2, "prov3"),
    }
    room_a = await ann.create_encrypted_room(invite=[mallory.user_id])
    await mallory.accept_invite(room_a)
    room_b = await bea.create_encrypted_room(invite=[])
    room_s = await staff.create_encrypted_room(invite=[])
    password = secrets.token_urlsafe(12)
    bot_user = await hs1.register(f"dsxbot-{secrets.token_hex(3)}", password)
    config = make_config(
        hs1,
        bot_user.user_id,
        password,
        root / "data",
        [
            PartnerSpec("alpha", room_a, (ann.user_id,)),
            PartnerSpec("beta", room_b, (bea.user_id,)),
        ],
        staff_room=room_s,
        staff_members=(staff.user_id,),
        database_url=database_url,
    )
    policy = getattr(request.module, "WORLD_POLICY", None)
    if policy is not None:
        config = dataclasses.replace(config, policy=policy)
    coordinator = await start_coordinator(config)
    try:
        for owner, room in ((ann, room_a), (bea, room_b), (staff, room_s)):
            await join_bot(owner, room, bot_user.user_id)
        await knows_devices(mallory, bot_user.user_id)
        yield World(coordinator, ann, bea, staff, mallory, providers, room_a, room_b, room_s)
    finally:
        await coordinator.shutdown()
        for m in members:
            await m.close()
