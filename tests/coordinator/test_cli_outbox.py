"""`dsx outbox list/retry` and doctor's outbox check, on a real database file: a dead
message is visible without its content, and queued again it goes out with its original
transaction id (so a room that got it before sees it once)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import sqlalchemy as sa

from coordinator import audit, audit_key
from coordinator.config import Config
from coordinator.store import Outbox, create_engine, migrate
from coordinator.store.clock import utcnow
from coordinator.store.outbox import MAX_ATTEMPTS, enqueue
from coordinator.store.schema import outbox
from dsx.cli.doctor import Status, check_outbox
from dsx.cli.main import main
from tests.harness.notices import rendered

SECRET_BODY = "contact Ana on +1 202 555 0143"


async def _deployment(tmp_path: Path) -> tuple[Config, Path, str, str]:
    conf_file = tmp_path / "dsx.toml"
    conf_file.write_text(f"data_dir = {json.dumps(str(tmp_path))}\n")
    conf = Config(data_dir=str(tmp_path), source=str(conf_file))
    (tmp_path / "keys").mkdir()
    audit_key.create(audit_key.key_path(conf))
    await migrate(conf.database_url)
    engine = create_engine(conf.database_url)
    try:
        async with engine.begin() as conn:
            doomed = await enqueue(
                conn,
                room="!gone:hs",
                kind="message",
                content={"msgtype": "m.notice", "body": SECRET_BODY},
                now=utcnow(),
            )
            waiting = await enqueue(
                conn,
                room="!alpha:hs",
                kind="message",
                content={"msgtype": "m.notice", "body": "later"},
                now=utcnow(),
            )
        box = Outbox(engine)
        for _ in range(MAX_ATTEMPTS):  # the bot was kicked from the room: its own fault
            [claimed] = [m for m in await box.claim("w", 10, 60) if m.id == doomed] or [None]
            assert claimed is not None
            await box.mark_failed(doomed, "M_FORBIDDEN", 0)
    finally:
        await engine.dispose()
    return conf, conf_file, doomed, waiting


async def _state(conf: Config, message_id: str) -> tuple[str, int]:
    engine = create_engine(conf.database_url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(outbox.c.state, outbox.c.attempts).where(outbox.c.id == message_id)
                )
            ).one()
        return row.state, row.attempts
    finally:
        await engine.dispose()


async def test_dead_messages_are_listed_and_sent_again(tmp_path, capsys):
    conf, conf_file, doomed, waiting = await _deployment(tmp_path)
    assert await _state(conf, doomed) == ("dead", MAX_ATTEMPTS)

    doctor = await check_outbox(conf)
    assert doctor.status is Status.FAIL and "M_FORBIDDEN" in doctor.detail
    assert "dsx outbox retry --dead" in doctor.fix

    assert await asyncio.to_thread(main, ["outbox", "list", "--config", str(conf_file)]) == 0
    out = capsys.readouterr().out
    assert doomed in out and waiting in out and "1 waiting, 1 dead" in out
    assert SECRET_BODY not in out  # ids, rooms and codes only

    bad = await asyncio.to_thread(
        main, ["outbox", "retry", "no-such-id", "--config", str(conf_file)]
    )
    assert bad == 1 and "is not a dead message" in capsys.readouterr().out

    retried = await asyncio.to_thread(
        main, ["outbox", "retry", "--dead", "--config", str(conf_file)]
    )
    assert retried == 0 and "1 queued again" in capsys.readouterr().out
    assert await _state(conf, doomed) == ("pending", 0)
    assert (await check_outbox(conf)).status is Status.OK

    engine = create_engine(conf.database_url)
    try:
        claimed = await Outbox(engine).claim("w2", 10, 60)
        assert doomed in [m.id for m in claimed]  # the same id: the same Matrix txn id
        entries = await audit.entries(engine)
        assert [(e.action, e.subject) for e in entries] == [("outbox.requeued", doomed)]
        assert await audit.verify(engine, audit_key.read(audit_key.key_path(conf))) is None
    finally:
        await engine.dispose()


async def test_a_message_given_up_on_is_reported_to_the_staff_room(coord):
    """Never silent: the transaction that gives up also queues one staff notice."""
    c = coord
    async with c.engine.begin() as conn:
        doomed = await enqueue(
            conn,
            room="!gone:hs",
            kind="message",
            content={"msgtype": "m.notice", "body": SECRET_BODY},
            now=c.ctx.clock(),
        )
    for _ in range(MAX_ATTEMPTS):
        assert doomed in [m.id for m in await c.outbox.claim("w", 10, 60)]
        await c.outbox.mark_failed(doomed, "M_FORBIDDEN", 0)
    staff = await c.outbox.pending(c.ctx.staff_room)
    assert len(staff) == 1
    body = rendered(staff[0])["body"]
    assert doomed in body and "M_FORBIDDEN" in body and "dsx outbox retry" in body
    assert SECRET_BODY not in json.dumps(rendered(staff[0]))
