"""SIGKILL during a stream of 100 messages: each handled once, each reply sent once;
SIGTERM then stops the process cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from coordinator.store.engine import create_engine
from coordinator.store.migrate import migrate
from coordinator.store.schema import inbox, outbox
from tests.matrix.conftest import BOT_DEVICE, PICKLE_KEY, new_account, unique, wait_joined

pytestmark = pytest.mark.synapse

COUNT = 100
ROOT = Path(__file__).resolve().parents[2]


async def _start(config: Path, log: Path) -> asyncio.subprocess.Process:
    out = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.matrix.echo_bot",
            str(config),
            cwd=ROOT,
            stdout=out,
            stderr=out,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    finally:
        out.close()


async def _until(condition, what: str, proc=None, log: Path | None = None, timeout=90.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if proc is not None and proc.returncode is not None:
            tail = log.read_text()[-3000:] if log else ""  # noqa: ASYNC240 - test failure path
            raise AssertionError(f"bot process exited ({proc.returncode}) before {what}:\n{tail}")
        if loop.time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


async def test_sigkill_mid_stream_loses_and_duplicates_nothing(
    homeserver, partners, tmp_path: Path
):
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(db_url)
    engine = create_engine(db_url)
    account = await new_account(homeserver, tmp_path / unique("store"), "echo")
    partner = await partners(homeserver)
    room = await partner.create_encrypted_room(invite=[])
    config = tmp_path / "echo.json"
    config.write_text(
        json.dumps(
            {
                "homeserver_url": account.homeserver_url,
                "user_id": account.user_id,
                "password": account.password,
                "device_id": BOT_DEVICE,
                "store_path": str(account.store_path),
                "pickle_key": PICKLE_KEY,
                "db_url": db_url,
                "room": room,
            }
        )
    )
    log = tmp_path / "echo.log"

    async def count(table) -> int:
        async with engine.connect() as conn:
            return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()

    async def unsent() -> int:
        async with engine.connect() as conn:
            q = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.state != "sent")
            return (await conn.execute(q)).scalar_one()

    proc = await _start(config, log)
    try:
        await partner.client.room_invite(room, account.user_id)
        await wait_joined(partner, room, account.user_id, timeout=90)

        tag = uuid.uuid4().hex[:6]
        bodies = [f"{tag} #{i}" for i in range(COUNT)]

        async def stream() -> None:
            for body in bodies:
                await partner.send_text(room, body)

        sender = asyncio.create_task(stream())

        async def some_handled() -> bool:
            return await count(inbox) >= 15

        await _until(some_handled, "some messages handled", proc, log)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        handled_at_kill = await count(inbox)
        assert handled_at_kill < COUNT

        proc = await _start(config, log)
        await sender

        async def all_done() -> bool:
            return (
                await count(inbox) == COUNT
                and await count(outbox) == COUNT
                and not (await unsent())
            )

        await _until(all_done, "all messages handled and answered", proc, log)

        want = {f"echo: {b}" for b in bodies}
        # Read the whole room history (a sync window would show only the latest events).
        await partner.sync()
        got = await _history_bodies(partner, room, account.user_id)
        assert not [b for b in got if b is None], "some echoes did not decrypt"
        echoes = [b for b in got if b is not None and b.startswith("echo: ")]
        assert len(echoes) == COUNT and set(echoes) == want, (len(echoes), handled_at_kill)

        # SIGTERM: a clean, prompt exit.
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await engine.dispose()


async def _history_bodies(partner, room: str, sender: str) -> list[str | None]:
    """Bodies of ``sender``'s messages over the whole room (None: not decryptable)."""
    from nio import MegolmEvent, RoomMessagesResponse

    bodies: list[str | None] = []
    start = partner.client.next_batch
    while True:
        resp = await partner.client.room_messages(room, start=start, limit=100)
        assert isinstance(resp, RoomMessagesResponse), resp
        for event in resp.chunk:
            if getattr(event, "sender", None) != sender:
                continue
            if isinstance(event, MegolmEvent):
                bodies.append(None)
            elif event.source.get("type") == "m.room.message":
                bodies.append(event.source["content"].get("body"))
        if not resp.chunk or not resp.end or resp.end == start:
            return bodies
        start = resp.end
