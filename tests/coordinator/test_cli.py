"""`dsx migrate` and `dsx audit verify` through the real CLI entry point, on both databases.

The commands run in a worker thread (each calls ``asyncio.run``), which spares the
seconds a fresh interpreter needs per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import io

from coordinator.store import head_revision
from coordinator.store.schema import audit_log
from coordinator.usecases import Coordinator
from dsx.cli.main import main
from tests.coordinator.conftest import make_config


async def _dsx(*args: str) -> tuple[int, str]:
    def call() -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(list(args))
        return code, out.getvalue()

    return await asyncio.to_thread(call)


async def test_migrate_then_verify_then_tamper(db_url, tmp_path):
    config_file = tmp_path / "dsx.toml"
    config_file.write_text(f'data_dir = "{tmp_path}"\n[database]\nurl = "{db_url}"\n')
    code, out = await _dsx("migrate", "--config", str(config_file))
    assert code == 0, out
    assert f"revision {head_revision()} (head {head_revision()})" in out

    c = await Coordinator.open(make_config(tmp_path), url=db_url)
    try:
        code, out = await _dsx("audit", "verify", "--config", str(config_file))
        assert code == 0, out
        assert "intact (3 entries)" in out
        async with c.engine.begin() as conn:
            await conn.execute(
                audit_log.update().where(audit_log.c.seq == 2).values(actor="@mallory:hs")
            )
    finally:
        await c.aclose()
    code, out = await _dsx("audit", "verify", "--config", str(config_file))
    assert code == 1
    assert "BROKEN: audit entry 2 does not match its hash" in out
    assert "entries 1 to 1 verify" in out and "Traceback" not in out
