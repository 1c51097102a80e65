"""``/healthz``, ``/readyz`` and the metrics port (docs/operator.md, "Watching it").

Readiness is checked against a real Synapse that is stopped and started again: while
the bot cannot sync, ``/readyz`` says 503 and names the check; after a full story the
metrics page holds counts and latencies, and no room id, user id or organization id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import pytest
import sqlalchemy as sa

from coordinator import __version__
from coordinator.config import MetricsConfig, WebConfig
from coordinator.health import Probe, SyncState
from coordinator.store import create_engine, migrate
from coordinator.store.schema import outbox
from partner_bots.homeserver.synapse import Homeserver, free_port
from tests.conftest import _require_synapse
from tests.workflow.harness import (
    REPLY,
    Member,
    PartnerSpec,
    join_bot,
    make_config,
    new_member,
    tag,
)


@pytest.fixture
async def engine(db_url):
    await migrate(db_url)
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


def _states(**kw: SyncState):
    return lambda: kw


OK = SyncState(syncs=3, failures=0, seconds_since_success=1.0)


async def test_ready_when_database_outbox_and_every_account_are_fine(engine):
    readiness = await Probe(engine, _states(**{"0": OK, "1": OK})).readiness()
    assert readiness.ready
    assert [c.name for c in readiness.checks] == [
        "database",
        "outbox",
        "sync account 0",
        "sync account 1",
    ]


@pytest.mark.parametrize(
    ("state", "detail"),
    [
        (SyncState(0, 0, None), "no sync completed yet"),
        (SyncState(5, 2, 40.0), "2 failed sync(s) in a row"),
        (SyncState(5, 0, 500.0), "last successful sync 500 s ago"),
    ],
)
async def test_one_account_not_syncing_makes_the_process_not_ready(engine, state, detail):
    readiness = await Probe(engine, _states(**{"0": OK, "1": state})).readiness()
    assert not readiness.ready
    failed = [c for c in readiness.checks if not c.ok]
    assert [(c.name, c.detail) for c in failed] == [("sync account 1", detail)]


async def test_a_dead_or_old_message_makes_the_process_not_ready(engine):
    from coordinator.store import outbox as store
    from coordinator.store.clock import utcnow

    async with engine.begin() as conn:
        await store.enqueue(conn, room="!r:hs", kind="message", content={}, now=utcnow())
    probe = Probe(engine, _states(**{"0": OK}), stuck_after_s=0.0)
    assert (await probe.readiness()).checks[1].detail.startswith("oldest message waiting")
    async with engine.begin() as conn:
        await conn.execute(outbox.update().values(state="dead"))
    check = (await Probe(engine, _states(**{"0": OK})).readiness()).checks[1]
    assert (check.ok, check.detail) == (False, "1 message(s) given up on: dsx outbox list --dead")


@pytest.mark.synapse
async def test_readyz_follows_the_homeserver_and_metrics_name_nobody(tmp_path, db_url):
    _require_synapse()
    from dsx.service import serve

    hs = Homeserver(tmp_path / "hs")
    await hs.start()
    ann: Member | None = None
    stop = asyncio.Event()
    task = None
    try:
        bot = await hs.register(f"dsx-{tag()}")
        ann = await new_member(hs, tmp_path / "clients", "ann")
        room = await ann.create_encrypted_room(invite=[])
        staff_room = await ann.create_encrypted_room(invite=[])
        config = make_config(
            hs,
            bot.user_id,
            bot.password,
            tmp_path / "data",
            [PartnerSpec("alpha", room, (ann.user_id,))],
            staff_room=staff_room,
            staff_members=(ann.user_id,),
            database_url=db_url,
        )
        web_port, metrics_port = free_port(), free_port()
        config = dataclasses.replace(
            config,
            web=WebConfig(port=web_port, public_url=f"http://127.0.0.1:{web_port}"),
            metrics=MetricsConfig(port=metrics_port),
        )
        ready = asyncio.Event()
        task = asyncio.create_task(serve(config, stop=stop, ready=ready, web=True))
        await asyncio.wait_for(ready.wait(), 90)
        await join_bot(ann, room, bot.user_id)
        await join_bot(ann, staff_room, bot.user_id)
        reply = await ann.ask(room, bot.user_id, "!dsx org add canary-org-7 region=US-CA")
        assert reply[REPLY]["ok"], reply["body"]

        base = f"http://127.0.0.1:{web_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200
                assert (await resp.json()) == {"alive": True, "version": __version__}
            assert (await _ready(http, base, want=200))["ready"] is True

            await hs.stop()
            body = await _ready(http, base, want=503, timeout=90)
            sync = next(c for c in body["checks"] if c["name"] == "sync account 0")
            assert sync["ok"] is False
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200  # alive, only not ready
            await hs.start()
            assert (await _ready(http, base, want=200, timeout=120))["ready"] is True

            async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
        assert 'dsx_use_case_seconds_count{use_case="add_organization"}' in text
        assert "dsx_outbox_waiting" in text and "dsx_sync_seconds_since_success" in text
        for secret in (room, staff_room, ann.user_id, bot.user_id, "canary-org-7", hs.server_name):
            assert secret not in text, secret
        async with engine_of(db_url) as conn:  # the canary really is in the database
            found = (await conn.execute(sa.text("SELECT count(*) FROM members"))).scalar_one()
        assert found >= 1
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 60)
        if ann is not None:
            await ann.close()
        await hs.stop()


class engine_of:
    def __init__(self, url: str):
        self.engine = create_engine(url)

    async def __aenter__(self):
        self.conn = await self.engine.connect()
        return self.conn

    async def __aexit__(self, *exc):
        await self.conn.close()
        await self.engine.dispose()


async def _ready(http, base: str, *, want: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(f"{base}/readyz") as resp:
            body = await resp.json()
            if resp.status == want:
                return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz never answered {want}: {body}")
        await asyncio.sleep(0.5)
