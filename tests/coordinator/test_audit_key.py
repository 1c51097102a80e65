"""The audit key file, and the `dsx` commands that need it, through the real CLI entry
point on both databases: a missing key is a clear message (never a traceback, never an
entry written without it), an old unkeyed database takes a key and keeps verifying, and an
anchor catches a truncated tail."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import stat
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from coordinator import audit, audit_key
from coordinator import config as cfg
from coordinator.store import create_engine, migrate
from coordinator.store.schema import audit_log
from coordinator.usecases import Coordinator
from dsx.cli.main import main


async def _dsx(*args: str) -> tuple[int, str]:
    def call() -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(list(args))
        return code, out.getvalue()

    return await asyncio.to_thread(call)


def _config_file(tmp_path, db_url: str):
    path = tmp_path / "dsx.toml"
    path.write_text(
        f'data_dir = "{tmp_path}"\n[database]\nurl = "{db_url}"\n'
        '[staff]\nroom = "!staff:hs"\nmembers = ["@staff:hs"]\n'
    )
    return path


def test_the_key_file_is_owner_only_never_replaced_and_never_printed(tmp_path):
    path = tmp_path / "audit.key"
    key = audit_key.create(path, 3, "ab" * 32)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert audit_key.read(path) == key and (key.legacy_entries, key.legacy_head) == (3, "ab" * 32)
    assert key.secret.hex() not in repr(key)
    with pytest.raises(FileExistsError):
        audit_key.create(path)
    assert audit_key.read(path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["audit.key"]  # no temporary left behind


@pytest.mark.parametrize(
    "text", ["", "key = 'nothex'\nlegacy_entries = 0\nlegacy_head = ''\n", 'key = "00"\n']
)
def test_a_damaged_key_file_is_named(tmp_path, text):
    path = tmp_path / "audit.key"
    path.write_text(text)
    with pytest.raises(audit_key.AuditKeyError) as err:
        audit_key.read(path)
    assert str(path) in str(err.value)


async def test_a_configuration_file_without_its_key_writes_nothing(db_url, tmp_path):
    conf = cfg.load(_config_file(tmp_path, db_url), env={})
    with pytest.raises(audit_key.AuditKeyError) as err:
        await Coordinator.open(conf)
    message = str(err.value)
    assert str(tmp_path / "keys" / "audit.key") in message and "dsx audit keygen" in message
    assert not (tmp_path / "keys" / "audit.key").exists()  # production never makes one


async def test_the_embedded_defaults_make_a_key_pinning_what_is_there(db_url, tmp_path):
    conf = cfg.Config(data_dir=str(tmp_path))
    c = await Coordinator.open(conf, url=db_url)
    try:
        await c.add_provider("@p1:hs", ["forensics"], ["en"])
        assert audit_key.read(tmp_path / "keys" / "audit.key") == c.audit_key
        assert c.audit_key.legacy_entries == 0
        assert await audit.verify(c.engine, c.audit_key) is None
    finally:
        await c.aclose()


async def test_cli_commands_on_a_missing_key_say_what_to_do(db_url, tmp_path):
    config_file = _config_file(tmp_path, db_url)
    code, out = await _dsx("migrate", "--config", str(config_file))
    assert code == 0, out  # the schema needs no key
    for command in (("audit", "verify"), ("run",), ("outbox", "retry", "--dead")):
        code, out = await _dsx(*command, "--config", str(config_file))
        assert code == 2, (command, out)
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
        assert "audit key file" in out and "not found" in out and "dsx audit keygen" in out


async def _unkeyed_chain(url: str, n: int) -> None:
    """Entries as the coordinator wrote them before the audit key (plain SHA-256)."""
    engine = create_engine(url)
    prev, at = audit.GENESIS, datetime.now(UTC).isoformat()
    try:
        async with engine.begin() as conn:
            for seq in range(1, n + 1):
                row = dict(seq=seq, at=at, actor="system", action="old.act", subject=f"s{seq}")
                digest = audit.entry_hash(*row.values(), {}, prev)
                await conn.execute(
                    audit_log.insert().values(**row, data={}, prev_hash=prev, hash=digest)
                )
                prev = digest
    finally:
        await engine.dispose()


async def test_an_old_database_takes_a_key_and_keeps_verifying(db_url, tmp_path):
    config_file = _config_file(tmp_path, db_url)
    await migrate(db_url)
    await _unkeyed_chain(db_url, 4)
    code, out = await _dsx("migrate", "--config", str(config_file))
    assert code == 0, out

    code, out = await _dsx("audit", "keygen", "--config", str(config_file))
    assert code == 0, out
    assert "pins the 4 entries" in out
    code, out = await _dsx("audit", "keygen", "--config", str(config_file))
    assert code == 2 and "never replaced" in out

    c = await Coordinator.open(cfg.load(config_file, env={}))  # registers nothing; writes keyed
    try:
        assert c.audit_key.legacy_entries == 4
        await c.add_provider("@p1:hs", ["forensics"], ["en"])
        anchor = await c.anchor_audit()
    finally:
        await c.aclose()
    code, out = await _dsx("audit", "verify", "--config", str(config_file))
    assert code == 0, out
    assert "chain intact (6 entries, the first 4 from before the audit key)" in out

    # The anchor from the staff room, copied as printed there; then the tail is cut.
    notice = f"{anchor.hash}:{anchor.count}"
    code, out = await _dsx("audit", "verify", "--anchor", notice, "--config", str(config_file))
    assert code == 0 and "holds anchor entry 5" in out, out
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.delete(audit_log).where(audit_log.c.seq >= 5))
    finally:
        await engine.dispose()
    code, out = await _dsx("audit", "verify", "--config", str(config_file))
    assert code == 0, out  # a shorter chain is still a chain...
    code, out = await _dsx("audit", "verify", "--anchor", notice, "--config", str(config_file))
    assert code == 1, out  # ...the anchor shows what is gone
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in out
    assert re.search(r"BROKEN: audit entry 5 and every later one are missing", lines[0])
    assert "entries 1 to 4 verify" in lines[1]


async def test_keygen_refuses_a_chain_that_does_not_verify(db_url, tmp_path):
    config_file = _config_file(tmp_path, db_url)
    await migrate(db_url)
    await _unkeyed_chain(db_url, 3)
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(subject="x"))
    finally:
        await engine.dispose()
    code, out = await _dsx("audit", "keygen", "--config", str(config_file))
    assert code == 2 and "audit entry 2" in out and "Traceback" not in out
    assert not (tmp_path / "keys" / "audit.key").exists()


async def test_a_malformed_anchor_is_one_line(tmp_path, sqlite_url):
    config_file = _config_file(tmp_path, sqlite_url)
    code, out = await _dsx("audit", "verify", "--anchor", "abc:12", "--config", str(config_file))
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert "HASH:COUNT" in out and "Traceback" not in out
