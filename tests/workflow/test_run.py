"""`dsx run --config FILE`: the production entry answers in a partner room and stops cleanly
on SIGTERM (exit 0, the session closed, never logged out)."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import sys
from pathlib import Path

import pytest

from coordinator import audit_key
from tests.workflow.harness import PICKLE_KEY, REPLY, Member, join_bot

pytestmark = pytest.mark.synapse


def _toml(values: dict[str, object]) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())


async def _wait_for_line(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> None:
    while True:
        line = await stream.readline()
        if not line:
            raise AssertionError(f"process ended before {needle!r}: {seen[-5:]}")
        seen.append(line.decode(errors="replace"))
        if needle in seen[-1]:
            return


async def test_dsx_run_serves_and_stops_on_sigterm(homeserver, tmp_path: Path):
    ann = await Member.create(homeserver, tmp_path / "clients", "ann")
    room = await ann.create_encrypted_room(invite=[])
    password = secrets.token_urlsafe(12)
    bot = await homeserver.register(f"dsxrun-{secrets.token_hex(3)}", password)
    config = tmp_path / "dsx.toml"
    config.write_text(
        _toml({"data_dir": str(tmp_path / "data")})
        + "\n[matrix]\n"
        + _toml(
            {
                "homeserver_url": homeserver.base_url,
                "user_id": bot.user_id,
                "password": password,
                "device_id": "DSXRUN",
                "pickle_key": PICKLE_KEY,
            }
        )
        + "\n[staff]\n"
        + _toml({"members": [ann.user_id]})  # `dsx run` refuses an empty staff list
        + "\n[[partners]]\n"
        + _toml({"handle": "alpha", "rooms": [room], "members": [ann.user_id]})
        + "\n"
    )
    keys = tmp_path / "data" / "keys"  # what `dsx init` makes: `dsx run` needs the audit key
    keys.mkdir(parents=True)
    audit_key.create(keys / audit_key.KEY_FILE)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dsx.cli.main",
        "run",
        "--config",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        await asyncio.wait_for(_wait_for_line(proc.stderr, "service.ready", seen), 90)
        await join_bot(ann, room, bot.user_id)
        reply = await ann.ask(room, bot.user_id, "!dsx help")
        assert reply[REPLY]["ok"]
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(_wait_for_line(proc.stderr, "service.stopped", seen), 60)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert not any("logout" in line.lower() for line in seen)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await ann.close()
