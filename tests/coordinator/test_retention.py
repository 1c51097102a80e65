"""Purged means gone from the database files: raw SQLite bytes and a pg_dump."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from coordinator.sealing import Binding, Opener
from coordinator.store.schema import retention_counts, sealed
from coordinator.store.sealed import binding_of
from tests.coordinator.conftest import network
from tests.harness.rawdb import sqlite_bytes

CANARY = "CANARY-7f3a9-organization-secret"


async def _database_bytes(url: str) -> bytes:
    if url.startswith("sqlite"):
        return await asyncio.to_thread(sqlite_bytes, url)
    parts = urlsplit(url)
    proc = await asyncio.create_subprocess_exec(
        "pg_dump",
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
        parts.path.lstrip("/"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        pytest.fail(f"pg_dump failed: {err.decode(errors='replace')[:300]}")
    return out


def _forms(blob: bytes) -> list[bytes]:
    """How a blob can appear in a file: raw bytes (SQLite) or hex (pg_dump of bytea)."""
    return [blob[-32:], blob[-32:].hex().encode()]


async def test_close_purges_sealed_data_from_files(coord, db_url):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["training"], note=f"{CANARY} note")
    async with c.engine.connect() as conn:
        found = (await conn.execute(sa.select(sealed))).all()
    blobs = [r.blob for r in found]
    assert len(blobs) == 3
    opener = Opener([c.test_keys])
    assert sorted(opener.open_text(r.blob, binding_of(r)) for r in found)[0].startswith(CANARY)

    before = await _database_bytes(db_url)
    assert CANARY.encode() not in before  # sealed at rest from the start
    assert any(form in before for b in blobs for form in _forms(b))  # the probe can see them

    routed = filed
    engagement = (await c.approve(routed.proposal, "alpha")).engagement
    closed = await c.close(engagement)
    assert closed.purged_rows == 3

    after = await _database_bytes(db_url)
    leftovers = [b for b in blobs for form in _forms(b) if form in after]
    assert leftovers == []
    async with c.engine.connect() as conn:
        counts = {k: v for k, v in await conn.execute(sa.select(retention_counts))}
    assert counts == {"requests_closed": 1, "skill:training": 1}


async def test_archive_needs_consent(coord, tmp_path):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["training"], note="note")
    routed = filed
    engagement = (await c.approve(routed.proposal, "alpha")).engagement
    from coordinator.domain import DomainError

    with pytest.raises(DomainError) as info:
        await c.close(engagement, archive=True)
    assert info.value.code == "no_archive_consent"

    await c.add_organization("o9", "alpha", name="Consenting", archive_consent=True)
    await c.vouch("alpha", "o9")
    await c.vet("o9")
    await c.add_provider("@p9:hs", ["audit"], ["en"], capacity=1)
    await c.vouch("alpha", "@p9:hs")
    await c.vet("@p9:hs")
    filed = await c.file_request("alpha", "o9", ["audit"], note="kept sealed")
    routed = filed
    engagement = (await c.approve(routed.proposal, "alpha")).engagement
    closed = await c.close(engagement, archive=True)
    assert closed.archived and closed.purged_rows == 2
    archive = (tmp_path / "archive" / f"{engagement}.sealed.jsonl").read_text()
    assert "kept sealed" not in archive and "Consenting" not in archive
    assert len(archive.splitlines()) == 2
    # The archive stays openable with the private key: each line names its row's binding.
    opener = Opener([c.test_keys])
    opened = set()
    for line in archive.splitlines():
        record = json.loads(line)
        binding = Binding(**record["sealed_for"])
        opened.add(opener.open_text(base64.b64decode(record["sealed"]), binding))
    assert opened == {"Consenting", "kept sealed"}
