"""Fast, deterministic pins for the product bugs the fault drills found:

* a SIGKILL between a command's use case and its reply lost the reply (test_sigkill.py):
  the sync loop's "already handled" check must key on the reply, not on the use case;
* network failures during a homeserver outage counted against an outbox row's attempts, so
  after ~25 s each room's head message went dead, i.e. was lost (test_outage.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from coordinator.config import Config
from coordinator.store.clock import utcnow
from coordinator.store.engine import create_engine
from coordinator.store.migrate import migrate
from coordinator.store.outbox import DEAD, MAX_ATTEMPTS, PENDING, Outbox, enqueue
from coordinator.usecases import Coordinator
from dsx.service import _RepliedInbox
from partner_bots.workflow.sink import REPLY_SUFFIX

pytestmark = pytest.mark.drill


@dataclass(frozen=True)
class Done:
    ok: bool


async def test_event_counts_as_handled_only_once_its_reply_is_queued(tmp_path: Path):
    core = await Coordinator.open(Config(data_dir=str(tmp_path)))
    replied = _RepliedInbox(core.inbox)
    event = "$command-event"

    async def effect(tx) -> Done:
        return Done(True)

    try:
        await core.transaction("file_request", effect, Done, "@ann:example.org", event)
        # Killed here: the effect is committed, the reply is not. A replay must run again.
        assert await core.inbox.already_handled(event)
        assert not await replied.already_handled(event)
        again = await core.transaction("file_request", effect, Done, "@ann:example.org", event)
        assert again == Done(True)  # the stored result: the effect is not repeated
        await core.transaction("reply", effect, Done, "@ann:example.org", event + REPLY_SUFFIX)
        assert await replied.already_handled(event)
    finally:
        await core.aclose()


async def _row_after(outbox: Outbox, engine, code: str, failures: int) -> tuple[str, int]:
    async with engine.begin() as conn:
        await enqueue(conn, room="!r:example.org", kind="message", content={}, now=utcnow())
    for _ in range(failures):
        claimed = await outbox.claim("worker", lease_seconds=60)
        assert len(claimed) == 1
        await outbox.mark_failed(claimed[0].id, code, retry_after=0)
    rows = await outbox.pending() or []
    if rows:
        return PENDING, rows[0].attempts
    return DEAD, MAX_ATTEMPTS


@pytest.mark.parametrize("code", ["network:ClientConnectorError", "M_LIMIT_EXCEEDED"])
async def test_an_outage_does_not_use_up_a_messages_attempts(tmp_path: Path, code: str):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        state, attempts = await _row_after(Outbox(engine), engine, code, 3 * MAX_ATTEMPTS)
        assert (state, attempts) == (PENDING, 0)
    finally:
        await engine.dispose()


async def test_a_message_the_homeserver_refuses_still_gives_up(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        state, _ = await _row_after(Outbox(engine), engine, "M_FORBIDDEN", MAX_ATTEMPTS)
        assert state == DEAD
    finally:
        await engine.dispose()


async def test_rows_waiting_behind_a_failed_one_are_not_charged(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dsx.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    outbox = Outbox(engine)
    try:
        async with engine.begin() as conn:
            for _ in range(3):
                await enqueue(conn, room="!r:example.org", kind="message", content={}, now=utcnow())
        for _ in range(2 * MAX_ATTEMPTS):  # a long outage: the head fails, the rest wait
            claimed = await outbox.claim("worker", lease_seconds=60)
            assert claimed and claimed[0].attempts == 1
            await outbox.mark_failed(claimed[0].id, "network:ClientConnectorError", 0)
        claimed = await outbox.claim("worker", lease_seconds=60)
        await outbox.mark_failed(claimed[0].id, "M_FORBIDDEN", 0)  # one real refusal
        rows = await outbox.pending()
        assert [r.attempts for r in rows] == [1, 0, 0]
    finally:
        await engine.dispose()
