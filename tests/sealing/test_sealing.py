"""Sealed boxes: round trip, binding to the row, tampering, wrong key, rotation, key files."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PublicKey, SealedBox

from coordinator.sealing import (
    PRIVATE_FILE,
    PUBLIC_FILE,
    Binding,
    MisplacedBlob,
    Opener,
    PublicSealer,
    SealingError,
    SealingKeyPair,
    add_private_key,
    generate_keypair,
    load_private_key,
    load_public_key,
    reseal,
    write_keypair,
)

_PAIR = generate_keypair()
CANARY = "Casa de Ayuda Legal — contact: maria@example.org, +1 555 010 9999"
ROW = Binding("o1", "org", "contact")
_ENVELOPE = 6 + len("o1") + len("org") + len("contact")


@pytest.fixture(scope="module")
def pair() -> SealingKeyPair:
    return generate_keypair()


def test_keypair_shape_and_key_id_is_hash_of_public(pair: SealingKeyPair) -> None:
    assert len(pair.public) == 32 and len(pair.private) == 32
    other = generate_keypair()
    assert pair.key_id != other.key_id
    assert len(pair.key_id) == 16
    assert SealingKeyPair.from_private(pair.private) == pair
    assert pair.private.hex() not in repr(pair)


def test_round_trip_text_and_bytes(pair: SealingKeyPair) -> None:
    sealer, opener = PublicSealer(pair.public), Opener([pair])
    assert opener.open(sealer.seal(CANARY, ROW), ROW) == CANARY.encode()
    assert opener.open_text(sealer.seal(CANARY, ROW), ROW) == CANARY
    assert opener.open(sealer.seal(b"\x00\xff", ROW), ROW) == b"\x00\xff"
    assert opener.open(sealer.seal("", ROW), ROW) == b""


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2000))
def test_round_trip_any_bytes(data: bytes) -> None:
    pair = _PAIR
    assert Opener([pair]).open(PublicSealer(pair.public).seal(data, ROW), ROW) == data


def test_blob_is_self_describing_and_randomized(pair: SealingKeyPair) -> None:
    sealer = PublicSealer(pair.public)
    a, b = sealer.seal(CANARY, ROW), sealer.seal(CANARY, ROW)
    assert a != b  # a fresh ephemeral key every time: equal texts are not linkable
    assert a[0] == 2
    assert a[1:9].hex() == pair.key_id == sealer.key_id
    assert len(a) == 1 + 8 + 48 + _ENVELOPE + len(CANARY.encode())
    assert Opener([pair]).key_id_of_blob(a) == pair.key_id


def test_sealed_output_never_contains_the_plaintext(pair: SealingKeyPair) -> None:
    sealer = PublicSealer(pair.public)
    for text in (CANARY, "maria@example.org", "x" * 64):
        blob = sealer.seal(text, ROW)
        assert text.encode() not in blob
        assert text.encode("utf-16-le") not in blob
        for chunk in (text[i : i + 8].encode() for i in range(0, len(text) - 8, 4)):
            assert chunk not in blob


def test_every_single_bit_flip_is_detected(pair: SealingKeyPair) -> None:
    sealer, opener = PublicSealer(pair.public), Opener([pair])
    blob = sealer.seal("short secret", ROW)
    for index in range(len(blob)):
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[index] ^= bit
            with pytest.raises(SealingError):
                opener.open(bytes(tampered), ROW)


def test_truncation_and_extension_are_detected(pair: SealingKeyPair) -> None:
    opener = Opener([pair])
    blob = PublicSealer(pair.public).seal(CANARY, ROW)
    for cut in (0, 1, 9, 9 + 47, len(blob) - 1):
        with pytest.raises(SealingError):
            opener.open(blob[:cut], ROW)
    with pytest.raises(SealingError):
        opener.open(blob + b"\x00", ROW)


@pytest.mark.parametrize("garbage", [b"", b"\x01", b"hello world" * 10, bytes(200), "text"])
def test_garbage_is_a_typed_error(pair: SealingKeyPair, garbage: object) -> None:
    with pytest.raises(SealingError):
        Opener([pair]).open(garbage, ROW)  # type: ignore[arg-type]


def test_wrong_key_is_a_typed_error(pair: SealingKeyPair) -> None:
    other = generate_keypair()
    blob = PublicSealer(pair.public).seal(CANARY, ROW)
    with pytest.raises(SealingError, match="not in the ring"):
        Opener([other]).open(blob, ROW)
    # Even a forged header naming the right key id cannot open with the wrong private key.
    forged = SealingKeyPair(public=pair.public, private=other.private, key_id=pair.key_id)
    with pytest.raises(SealingError):
        Opener([forged])


def test_opener_needs_a_key_and_sealer_checks_length() -> None:
    with pytest.raises(SealingError):
        Opener([])
    with pytest.raises(SealingError):
        PublicSealer(b"short")


def test_rotation_old_blobs_open_with_ring_and_reseal_moves_them() -> None:
    old, new = generate_keypair(), generate_keypair()
    old_blobs = [PublicSealer(old.public).seal(f"org {i}", ROW) for i in range(5)]
    new_sealer = PublicSealer(new.public)
    ring = Opener([new, old])
    assert ring.key_ids == (new.key_id, old.key_id)
    assert [ring.open(b, ROW) for b in old_blobs] == [f"org {i}".encode() for i in range(5)]

    moved = [reseal(b, ring, new_sealer, ROW) for b in old_blobs]
    assert all(ring.key_id_of_blob(b) == new.key_id for b in moved)
    # After rotation the old private key can be dropped.
    only_new = Opener([new])
    assert [only_new.open(b, ROW) for b in moved] == [f"org {i}".encode() for i in range(5)]
    with pytest.raises(SealingError):
        only_new.open(old_blobs[0], ROW)
    # Re-sealing a blob already on the new key leaves it untouched.
    assert reseal(moved[0], ring, new_sealer, ROW) == moved[0]


def test_a_blob_opens_only_for_the_row_it_was_sealed_for(pair: SealingKeyPair) -> None:
    sealer, opener = PublicSealer(pair.public), Opener([pair])
    blob = sealer.seal(CANARY, ROW)
    for other in (
        Binding("o2", "org", "contact"),  # another organization's row
        Binding("o1", "intake", "contact"),  # another scope
        Binding("o1", "org", "name"),  # another field
        Binding("o1org", "", "contact"),  # the same bytes, split differently
        Binding("", "", ""),
    ):
        with pytest.raises(MisplacedBlob):
            opener.open(blob, other)
        with pytest.raises(MisplacedBlob):
            opener.open_text(blob, other)
    assert opener.open_text(blob, Binding("o1", "org", "contact")) == CANARY  # equal, not same
    assert Binding("ö", "s", "f") != Binding("o", "s", "f")
    unicode_row = Binding("c-ä1", "intake", "näme")
    assert opener.open_text(sealer.seal("x", unicode_row), unicode_row) == "x"


def test_reseal_keeps_the_binding_and_refuses_a_misplaced_blob(pair: SealingKeyPair) -> None:
    new = generate_keypair()
    ring, new_sealer = Opener([new, pair]), PublicSealer(new.public)
    moved = reseal(PublicSealer(pair.public).seal(CANARY, ROW), ring, new_sealer, ROW)
    assert Opener([new]).open_text(moved, ROW) == CANARY
    with pytest.raises(MisplacedBlob):
        Opener([new]).open(moved, Binding("o2", "org", "contact"))
    with pytest.raises(MisplacedBlob):  # never re-sealed into the row it was moved to
        reseal(
            PublicSealer(pair.public).seal(CANARY, ROW),
            ring,
            new_sealer,
            Binding("o2", "org", "contact"),
        )


def _legacy_seal(public: bytes, plaintext: bytes) -> bytes:
    """A format 1 blob, as sealed before the binding: header and the bare value."""
    return (
        bytes([1])
        + bytes.fromhex(PublicSealer(public).key_id)
        + SealedBox(PublicKey(public)).encrypt(plaintext)
    )


def test_format_1_blobs_are_refused_as_misplaced(pair: SealingKeyPair) -> None:
    opener = Opener([pair])
    with pytest.raises(MisplacedBlob, match="format 1"):
        opener.open(_legacy_seal(pair.public, CANARY.encode()), ROW)
    # Relabelling a bound blob as format 1 does not bypass the check either.
    downgraded = bytearray(PublicSealer(pair.public).seal(CANARY, ROW))
    downgraded[0] = 1
    with pytest.raises(MisplacedBlob):
        opener.open(bytes(downgraded), Binding("o2", "org", "contact"))


def test_a_truncated_envelope_is_a_typed_error(pair: SealingKeyPair) -> None:
    opener = Opener([pair])
    blob = (
        bytes([2])
        + bytes.fromhex(pair.key_id)
        + SealedBox(PublicKey(pair.public)).encrypt(b"\x00\x10\x00\x00\x00\x00o1")
    )
    with pytest.raises(SealingError, match="truncated"):
        opener.open(blob, ROW)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_keypair_permissions_and_load(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)  # a strict umask must not make the public key unreadable
    try:
        public_path, private_path = write_keypair(tmp_path / "keys")
    finally:
        os.umask(old_umask)
    assert public_path.name == PUBLIC_FILE and private_path.name == PRIVATE_FILE
    assert _mode(private_path) == 0o600
    assert _mode(public_path) == 0o644
    sealer = load_public_key(public_path)
    opener = load_private_key(private_path)
    assert opener.key_ids == (sealer.key_id,)
    assert opener.open(sealer.seal(CANARY, ROW), ROW) == CANARY.encode()


def test_write_keypair_refuses_to_overwrite(tmp_path: Path) -> None:
    public_path, private_path = write_keypair(tmp_path)
    before = private_path.read_bytes(), public_path.read_bytes()
    with pytest.raises(FileExistsError):
        write_keypair(tmp_path)
    public_path.unlink()
    with pytest.raises(FileExistsError):  # the private key alone is enough to refuse
        write_keypair(tmp_path)
    assert private_path.read_bytes() == before[0]


def test_key_ring_file_rotation(tmp_path: Path) -> None:
    public_path, private_path = write_keypair(tmp_path)
    old_sealer = load_public_key(public_path)
    old_blob = old_sealer.seal(CANARY, ROW)
    new = generate_keypair()
    add_private_key(private_path, new)
    assert _mode(private_path) == 0o600
    ring = load_private_key(private_path)
    assert ring.key_ids == (new.key_id, old_sealer.key_id)
    moved = reseal(old_blob, ring, PublicSealer(new.public), ROW)
    assert Opener([new]).open(moved, ROW) == CANARY.encode()


def test_bad_key_files_are_typed_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("# only a comment\n")
    with pytest.raises(SealingError, match="no key"):
        load_private_key(bad)
    bad.write_text("not base64!!\n")
    with pytest.raises(SealingError, match="base64"):
        load_private_key(bad)
    bad.write_text("AAAA\n")
    with pytest.raises(SealingError, match="32 bytes"):
        load_public_key(bad)
    two = tmp_path / "two.pub"
    pub1, pub2 = generate_keypair(), generate_keypair()
    two.write_text(
        base64.b64encode(pub1.public).decode() + "\n" + base64.b64encode(pub2.public).decode()
    )
    with pytest.raises(SealingError, match="exactly one"):
        load_public_key(two)
