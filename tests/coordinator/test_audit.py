"""The keyed audit chain: intact verifies; each way the database's owner could tamper with
it (without the audit key, knowing the algorithm) is reported at the first broken entry."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from coordinator import audit
from coordinator.audit_key import GENESIS, AuditKey
from coordinator.store.schema import audit_log


def _key(**pin) -> AuditKey:
    return AuditKey(secrets.token_bytes(32), **pin)


async def _fill(engine, n: int, key: AuditKey) -> None:
    for i in range(n):
        async with engine.begin() as conn:
            await audit.append(
                conn,
                [audit.AuditRecord("@staff:hs", "test.act", f"subject-{i}", {"n": i})],
                datetime.now(UTC),
                key,
            )


async def _rows(engine) -> list:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(audit_log).order_by(audit_log.c.seq))).all()


async def _rehash_from(engine, start: int, digest, changes: dict | None = None) -> None:
    """What an attacker who knows the algorithm does: rewrite from ``start`` on, each entry
    linked to the one before and hashed with ``digest`` (a guessed key, or plain SHA-256)."""
    rows = await _rows(engine)
    prev = GENESIS if start == 1 else rows[start - 2].hash
    async with engine.begin() as conn:
        for r in rows[start - 1 :]:
            fields = dict(
                seq=r.seq,
                at=r.at,
                actor=r.actor,
                action=r.action,
                subject=r.subject,
                data=r.data,
            )
            if r.seq == start:
                fields.update(changes or {})
            new = digest(*fields.values(), prev)
            await conn.execute(
                audit_log.update()
                .where(audit_log.c.seq == r.seq)
                .values(**{k: v for k, v in fields.items() if k != "seq"}, prev_hash=prev, hash=new)
            )
            prev = new


async def test_an_intact_keyed_chain_verifies(engine):
    key = _key()
    await _fill(engine, 5, key)
    assert await audit.verify(engine, key) is None
    head = await audit.head(engine)
    assert head.count == 5 and head.hash == (await _rows(engine))[-1].hash
    # Each entry carries the key's HMAC, not a plain SHA-256 anyone could recompute.
    first = (await _rows(engine))[0]
    plain = audit.entry_hash(
        1, first.at, first.actor, first.action, first.subject, first.data, GENESIS
    )
    assert first.hash != plain


async def test_a_changed_entry_is_a_hash_mismatch(engine):
    key = _key()
    await _fill(engine, 6, key)
    async with engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.seq == 4).values(subject="forged"))
    assert await audit.verify(engine, key) == audit.BrokenLink(4, "hash_mismatch")


@pytest.mark.parametrize("scheme", ["guessed key", "plain sha256"])
async def test_a_rewrite_rehashed_without_the_key_is_caught_at_that_entry(engine, scheme):
    """The attacker rewrites entry 3 and re-links every later one, correctly, but cannot
    compute the HMAC: neither with a key of their own nor by falling back to SHA-256."""
    key = _key()
    await _fill(engine, 6, key)
    other = _key()
    digest = (
        (lambda *f: audit.keyed_hash(other, *f)) if scheme == "guessed key" else audit.entry_hash
    )
    await _rehash_from(engine, 3, digest, {"actor": "@mallory:hs"})
    rows = await _rows(engine)
    assert rows[2].actor == "@mallory:hs" and rows[3].prev_hash == rows[2].hash  # well linked
    assert await audit.verify(engine, key) == audit.BrokenLink(3, "hash_mismatch")


async def test_a_deleted_middle_entry_is_a_gap(engine):
    key = _key()
    await _fill(engine, 5, key)
    async with engine.begin() as conn:
        await conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 2))
    assert await audit.verify(engine, key) == audit.BrokenLink(2, "gap")


async def test_a_deleted_middle_entry_renumbered_and_rehashed_is_caught(engine):
    key = _key()
    await _fill(engine, 5, key)
    async with engine.begin() as conn:
        await conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 2))
        for seq in (3, 4, 5):
            await conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(seq=seq - 1))
    await _rehash_from(engine, 2, lambda *f: audit.keyed_hash(_key(), *f))
    assert await audit.verify(engine, key) == audit.BrokenLink(2, "hash_mismatch")


async def test_a_truncated_tail_is_caught_against_an_anchor(engine):
    key = _key()
    await _fill(engine, 4, key)
    anchor = await audit.head(engine)  # what the staff room was told
    await _fill(engine, 2, key)
    assert await audit.verify(engine, key, anchor) is None  # later entries are fine
    async with engine.begin() as conn:
        await conn.execute(sa.delete(audit_log).where(audit_log.c.seq >= 3))
    # Without an anchor a shorter chain is still a valid chain (docs/security.md says so)...
    assert await audit.verify(engine, key) is None
    # ...the anchor shows what is gone.
    assert await audit.verify(engine, key, anchor) == audit.BrokenLink(3, "missing")


async def test_a_chain_rebuilt_with_the_key_still_differs_from_the_anchor(engine):
    """Even someone holding the key cannot rewrite what an anchor already covers."""
    key = _key()
    await _fill(engine, 4, key)
    anchor = await audit.head(engine)
    await _rehash_from(engine, 2, lambda *f: audit.keyed_hash(key, *f), {"subject": "forged"})
    assert await audit.verify(engine, key) is None
    assert await audit.verify(engine, key, anchor) == audit.BrokenLink(4, "anchor_mismatch")


async def test_anchor_of_an_empty_chain_and_a_wrong_one(engine):
    key = _key()
    assert await audit.verify(engine, key, audit.Anchor(0, GENESIS)) is None
    assert await audit.verify(engine, key, audit.Anchor(0, "a" * 64)) == audit.BrokenLink(
        0, "anchor_mismatch"
    )
    assert await audit.verify(engine, key, audit.Anchor(1, "a" * 64)) == audit.BrokenLink(
        1, "missing"
    )


async def _legacy_chain(engine, n: int) -> None:
    """Entries as the coordinator wrote them before the audit key: plain SHA-256."""
    prev, at = GENESIS, datetime.now(UTC).isoformat()
    async with engine.begin() as conn:
        for seq in range(1, n + 1):
            fields = (seq, at, "system", "old.act", f"s{seq}", {"n": seq})
            digest = audit.entry_hash(*fields, prev)
            await conn.execute(
                audit_log.insert().values(
                    seq=seq,
                    at=at,
                    actor="system",
                    action="old.act",
                    subject=f"s{seq}",
                    data={"n": seq},
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest


async def test_entries_from_before_the_key_verify_and_new_ones_are_keyed(engine):
    await _legacy_chain(engine, 3)
    head = await audit.head(engine)
    key = _key(legacy_entries=head.count, legacy_head=head.hash)
    assert await audit.verify(engine, key) is None
    await _fill(engine, 2, key)
    assert await audit.verify(engine, key) is None
    rows = await _rows(engine)
    fields = (rows[3].seq, rows[3].at, rows[3].actor, rows[3].action, rows[3].subject)
    assert rows[3].hash == audit.keyed_hash(key, *fields, rows[3].data, rows[2].hash)


async def test_keyed_entries_downgraded_to_the_old_scheme_are_caught(engine):
    await _legacy_chain(engine, 4)
    head = await audit.head(engine)
    key = _key(legacy_entries=head.count, legacy_head=head.hash)
    await _fill(engine, 2, key)
    # Downgrade: keyed entries re-hashed as if they were old ones.
    await _rehash_from(engine, 5, audit.entry_hash)
    assert await audit.verify(engine, key) == audit.BrokenLink(5, "hash_mismatch")


async def test_a_rewritten_old_chain_differs_from_its_pin(engine):
    await _legacy_chain(engine, 4)
    head = await audit.head(engine)
    key = _key(legacy_entries=head.count, legacy_head=head.hash)
    await _rehash_from(engine, 2, audit.entry_hash, {"actor": "@mallory:hs"})
    assert await audit.verify(engine, key) == audit.BrokenLink(4, "pin_mismatch")
    async with engine.begin() as conn:
        await conn.execute(sa.delete(audit_log).where(audit_log.c.seq >= 3))
    assert await audit.verify(engine, key) == audit.BrokenLink(3, "missing")


async def test_no_entry_is_written_without_the_key(engine):
    record = audit.AuditRecord("@staff:hs", "test.act", "s", {})
    async with engine.begin() as conn:
        with pytest.raises(TypeError):
            await audit.append(conn, [record], datetime.now(UTC), None)  # type: ignore[arg-type]
    assert await audit.count(engine) == 0


def test_anchor_text_round_trips_and_bad_text_is_refused():
    digest = "ab" * 32
    anchor = audit.Anchor(42, digest)
    assert str(anchor) == f"{digest}:42"
    assert audit.Anchor.parse(str(anchor)) == anchor
    assert audit.Anchor.parse(f" 42:{digest.upper()} ") == anchor
    for bad in ("", "42", f"{digest}:", f"{digest[:-1]}:42", f"{digest}:-1", f"{digest}:4:2"):
        with pytest.raises(ValueError):
            audit.Anchor.parse(bad)


def test_broken_links_read_as_sentences():
    assert str(audit.BrokenLink(4, "gap")).startswith("audit entry 4 is missing")
    assert "without the audit key" in str(audit.BrokenLink(2, "hash_mismatch"))


def test_rejects_free_text():
    with pytest.raises(ValueError):
        audit._check_value("note", "x" * 500)
    with pytest.raises(TypeError):
        audit._check_value("score", 0.5)


async def test_a_row_this_code_could_not_have_written_is_a_mismatch_not_a_crash(engine):
    key = _key()
    await _fill(engine, 3, key)
    async with engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.seq == 3).values(hash="é" * 64))
    assert await audit.verify(engine, key) == audit.BrokenLink(3, "hash_mismatch")
    async with engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(data=[1, 2]))
    assert await audit.verify(engine, key) == audit.BrokenLink(2, "hash_mismatch")
