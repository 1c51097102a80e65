"""`dsx doctor` against a healthy deployment and against broken ones (real Synapse, SQLite)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from pathlib import Path

import aiohttp
import pytest

from coordinator import audit_key
from coordinator import config as cfg
from coordinator.sealing import write_keypair
from coordinator.store import migrate
from dsx.cli.doctor import Status, diagnose
from dsx.cli.main import main
from dsx.demo.stack import to_toml
from partner_bots.homeserver.synapse import Homeserver, free_port

pytestmark = pytest.mark.synapse

PICKLE = "doctor-test-pickle-key-0123456"


async def deployment(hs: Homeserver, root: Path, *, bootstrap: bool = True) -> cfg.Config:
    """A bot account, keys, a migrated SQLite database and (optionally) a started bot."""
    password = secrets.token_urlsafe(12)
    user = await hs.register(f"doc-{secrets.token_hex(4)}", password)
    keys = root / "keys"
    for folder in (root, keys, root / "nio-store"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    public, private = write_keypair(keys)
    audit_key.create(keys / audit_key.KEY_FILE)
    doc = {
        "data_dir": str(root),
        "matrix": {
            "homeserver_url": hs.base_url,
            "user_id": user.user_id,
            "password": password,
            "device_id": "DSXDOCTOR",
            "store_path": str(root / "nio-store"),
            "pickle_key": PICKLE,
        },
        "sealing": {"public_key_file": str(public), "private_key_file": str(private)},
        "staff": {"members": ["@ana:doctor.example"]},
    }
    path = root / "dsx.toml"
    path.write_text(to_toml(doc))
    conf = cfg.load(path, env={})
    await migrate(conf.database_url)
    if bootstrap:
        from partner_bots.cross_signing import CrossSigning
        from partner_bots.session import BotAccount, BotSession

        session = BotSession(BotAccount.from_config(conf))
        await session.open()
        try:
            await CrossSigning(session).ensure()
        finally:
            await session.close()
    return conf


def by_name(results) -> dict[str, Status]:
    return {r.name: r.status for r in results}


def with_matrix(conf: cfg.Config, **changes) -> cfg.Config:
    return dataclasses.replace(conf, matrix=dataclasses.replace(conf.matrix, **changes))


async def test_healthy(homeserver, tmp_path, capsys):
    conf = await deployment(homeserver, tmp_path / "ok")
    results = await diagnose(conf)
    # Warnings only (no staff room, partners or emergency contact in this deployment).
    assert all(r.status is not Status.FAIL for r in results), [r.line() for r in results]
    assert {r.name for r in results if r.status is Status.WARN} == {"settings"}
    assert {
        "staff",
        "settings",
        "crypto store",
        "sealing public key",
        "sealing private key",
        "audit key",
        "database",
        "outbox",
        "upgraded rooms",
        "homeserver",
        "bot login",
        "cross-signing",
    } == {r.name for r in results}
    assert await asyncio.to_thread(main, ["doctor", "--config", conf.source]) == 0
    out = capsys.readouterr().out
    assert "✗" not in out and "✓ cross-signing: device DSXDOCTOR is cross-signed" in out
    assert conf.matrix.password not in out

    other_key = with_matrix(conf, pickle_key="another-pickle-key-0123456789")
    assert by_name(await diagnose(other_key))["crypto store"] is Status.FAIL


async def test_broken(homeserver, tmp_path, capsys):
    conf = await deployment(homeserver, tmp_path / "bad", bootstrap=False)
    # Never started: no cross-signing yet; the password works through a throw-away device.
    before = await devices(homeserver, conf)
    status = by_name(await diagnose(conf))
    assert status["bot login"] is Status.OK
    assert status["cross-signing"] is Status.FAIL
    assert await devices(homeserver, conf) == before  # the temporary device is gone

    nobody = dataclasses.replace(conf, staff=cfg.StaffConfig())
    (staff,) = [r for r in await diagnose(nobody) if r.name == "staff"]
    assert staff.status is Status.FAIL and "only listed members are staff" in staff.detail
    assert "\n" not in staff.detail

    wrong = with_matrix(conf, password="not-the-password")
    assert by_name(await diagnose(wrong))["bot login"] is Status.FAIL

    gone = with_matrix(conf, homeserver_url=f"http://127.0.0.1:{free_port()}")
    status = by_name(await diagnose(gone))
    assert status["homeserver"] is Status.FAIL and status["bot login"] is Status.FAIL

    db = break_files(conf)
    status = by_name(await diagnose(conf))
    assert status["sealing private key"] is Status.FAIL
    assert status["audit key"] is Status.FAIL
    assert status["database"] is Status.FAIL
    assert not db.exists()  # doctor creates nothing

    db.touch()  # exists, never migrated
    assert by_name(await diagnose(conf))["database"] is Status.FAIL

    assert await asyncio.to_thread(main, ["doctor", "--config", conf.source]) == 1
    out = capsys.readouterr().out
    assert "✗ sealing private key" in out and "fix: chmod 600" in out
    assert "✗ audit key" in out and "dsx audit keygen" in out
    assert "fix: run `dsx migrate" in out


def break_files(conf: cfg.Config) -> Path:
    """A world-readable private key, a lost audit key and a deleted database; returns the
    database path."""
    Path(conf.sealing.private_key_file).chmod(0o644)
    (Path(conf.data_dir) / "keys" / audit_key.KEY_FILE).unlink()
    db = Path(conf.data_dir) / "dsx.sqlite3"
    db.unlink()
    return db


def test_bad_config_file(tmp_path, capsys):
    assert main(["doctor", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "✗ configuration" in capsys.readouterr().out


async def devices(hs: Homeserver, conf: cfg.Config) -> int:
    """How many devices the bot account has, seen through a fresh admin-free login."""
    base = hs.base_url
    async with aiohttp.ClientSession() as http:
        login = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": conf.matrix.user_id},
            "password": conf.matrix.password,
        }
        async with http.post(f"{base}/_matrix/client/v3/login", json=login) as resp:
            token = (await resp.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{base}/_matrix/client/v3/devices", headers=headers) as resp:
            count = len((await resp.json())["devices"]) - 1  # minus this probe
        async with http.post(f"{base}/_matrix/client/v3/logout", headers=headers, json={}):
            pass
    return count
