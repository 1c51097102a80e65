"""Sealing of personal data at rest with libsodium sealed boxes (``crypto_box_seal``).

Organization names, contacts and free text are sealed with a public key the moment they
arrive, so the web process and the database hold only ciphertext: a stolen web server or
database dump reveals nothing. Only the delivery process, which holds the private key(s),
can open a blob, right before the text goes into its end-to-end-encrypted room.

A sealed blob is self-describing so keys can rotate without a migration::

    version (1 byte, 0x01) | key id (8 bytes) | sealed box (48 bytes overhead + plaintext)

The key id is a short BLAKE2b hash of the public key; an :class:`Opener` holds a key ring
and picks the private key by that id. :func:`reseal` moves old blobs to a new key.

Key files are one base64 key per line (``#`` comments allowed). A private key file may
hold several keys (a ring, newest first); the public key file holds exactly one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from coordinator.logs import get_logger

log = get_logger(__name__)

VERSION = 1
KEY_ID_BYTES = 8
KEY_BYTES = 32
_HEADER = 1 + KEY_ID_BYTES
SEAL_OVERHEAD = 48  # ephemeral public key (32) + MAC (16)
PUBLIC_FILE = "sealing.pub"
PRIVATE_FILE = "sealing.key"


class SealingError(Exception):
    """A blob could not be opened: unknown key, tampering, or not a sealed blob at all."""


def _key_id_bytes(public: bytes) -> bytes:
    return hashlib.blake2b(public, digest_size=KEY_ID_BYTES, person=b"dsx-seal-keyid").digest()


def key_id_of(public: bytes) -> str:
    """The printable key id (16 hex digits) of a public key."""
    return _key_id_bytes(public).hex()


@dataclass(frozen=True)
class SealingKeyPair:
    public: bytes
    private: bytes = field(repr=False)
    key_id: str

    @classmethod
    def from_private(cls, private: bytes) -> SealingKeyPair:
        """Rebuild the pair from the private half (the public key is derived from it)."""
        if len(private) != KEY_BYTES:
            raise SealingError(f"a private key has {KEY_BYTES} bytes, got {len(private)}")
        public = bytes(PrivateKey(private).public_key)
        return cls(public=public, private=private, key_id=key_id_of(public))


def generate_keypair() -> SealingKeyPair:
    return SealingKeyPair.from_private(bytes(PrivateKey.generate()))


class PublicSealer:
    """Seals with a public key only; safe to hold in the web process."""

    def __init__(self, public: bytes):
        if len(public) != KEY_BYTES:
            raise SealingError(f"a public key has {KEY_BYTES} bytes, got {len(public)}")
        self.public = bytes(public)
        self.key_id = key_id_of(self.public)
        self._header = bytes([VERSION]) + _key_id_bytes(self.public)
        self._box = SealedBox(PublicKey(self.public))

    def seal(self, plaintext: str | bytes) -> bytes:
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else bytes(plaintext)
        return self._header + self._box.encrypt(data)

    def __repr__(self) -> str:
        return f"PublicSealer(key_id={self.key_id!r})"


class Opener:
    """Opens blobs sealed to any key in its ring (old keys stay here during rotation)."""

    def __init__(self, keypairs: Iterable[SealingKeyPair]):
        self._boxes: dict[bytes, SealedBox] = {}
        self.key_ids: tuple[str, ...] = ()
        ids: list[str] = []
        for pair in keypairs:
            if bytes(PrivateKey(pair.private).public_key) != pair.public:
                raise SealingError(f"key pair {pair.key_id}: private and public keys differ")
            raw_id = _key_id_bytes(pair.public)
            if raw_id not in self._boxes:
                self._boxes[raw_id] = SealedBox(PrivateKey(pair.private))
                ids.append(pair.key_id)
        if not ids:
            raise SealingError("an opener needs at least one private key")
        self.key_ids = tuple(ids)

    def key_id_of_blob(self, sealed: bytes) -> str:
        """Which key a blob was sealed to (no private key needed)."""
        _check_header(sealed)
        return sealed[1:_HEADER].hex()

    def open(self, sealed: bytes) -> bytes:
        _check_header(sealed)
        box = self._boxes.get(bytes(sealed[1:_HEADER]))
        if box is None:
            raise SealingError(f"sealed to key {sealed[1:_HEADER].hex()}, which is not in the ring")
        try:
            return box.decrypt(bytes(sealed[_HEADER:]))
        except CryptoError as exc:
            raise SealingError("sealed blob failed authentication (tampered or corrupt)") from exc

    def open_text(self, sealed: bytes) -> str:
        try:
            return self.open(sealed).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SealingError("sealed blob does not hold UTF-8 text") from exc

    def __repr__(self) -> str:
        return f"Opener(key_ids={self.key_ids!r})"


def _check_header(sealed: bytes) -> None:
    if not isinstance(sealed, bytes | bytearray | memoryview):
        raise SealingError(f"a sealed blob is bytes, got {type(sealed).__name__}")
    if len(sealed) < _HEADER + SEAL_OVERHEAD:
        raise SealingError("too short to be a sealed blob")
    if sealed[0] != VERSION:
        raise SealingError(f"unknown sealed-blob version {sealed[0]}")


def reseal(blob: bytes, opener: Opener, new_sealer: PublicSealer) -> bytes:
    """Re-seal one blob to the new key; a blob already on it is returned unchanged."""
    if opener.key_id_of_blob(blob) == new_sealer.key_id:
        return bytes(blob)
    return new_sealer.seal(opener.open(blob))


# -- key files ----------------------------------------------------------------------------


def _encode(key: bytes) -> bytes:
    return base64.b64encode(key) + b"\n"


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Create ``path`` exclusively (never overwrite) with exactly ``mode``, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_keypair(directory: Path, keypair: SealingKeyPair | None = None) -> tuple[Path, Path]:
    """Write a fresh (or given) pair as ``sealing.pub`` (0644) and ``sealing.key`` (0600).

    Refuses to overwrite either file: losing a private key loses every blob sealed to it.
    Returns ``(public_path, private_path)``.
    """
    directory = Path(directory)
    pair = keypair or generate_keypair()
    public_path, private_path = directory / PUBLIC_FILE, directory / PRIVATE_FILE
    for path in (public_path, private_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; refusing to overwrite a sealing key")
    directory.mkdir(parents=True, exist_ok=True)
    _write_new(private_path, _encode(pair.private), 0o600)
    _write_new(public_path, _encode(pair.public), 0o644)
    log.info("sealing.keypair_written", key_id=pair.key_id)
    return public_path, private_path


def _read_keys(path: Path) -> list[bytes]:
    keys = []
    for number, line in enumerate(Path(path).read_text("ascii").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise SealingError(f"{path}:{number}: not a base64 key") from exc
        if len(key) != KEY_BYTES:
            raise SealingError(f"{path}:{number}: a key has {KEY_BYTES} bytes, got {len(key)}")
        keys.append(key)
    if not keys:
        raise SealingError(f"{path}: no key found")
    return keys


def load_public_key(path: Path | str) -> PublicSealer:
    keys = _read_keys(Path(path))
    if len(keys) != 1:
        raise SealingError(f"{path}: a public key file holds exactly one key")
    return PublicSealer(keys[0])


def load_keypairs(*paths: Path | str) -> list[SealingKeyPair]:
    """Every private key in the given files, in order (a ring: newest first by convention)."""
    return [SealingKeyPair.from_private(k) for p in paths for k in _read_keys(Path(p))]


def load_private_key(*paths: Path | str) -> Opener:
    """An opener over every private key in the given file(s)."""
    return Opener(load_keypairs(*paths))


def add_private_key(path: Path | str, keypair: SealingKeyPair) -> None:
    """Put a new private key at the head of an existing ring file, keeping the old keys."""
    path = Path(path)
    old = path.read_bytes()
    tmp = path.with_name(path.name + ".new")
    _write_new(tmp, _encode(keypair.private) + old, 0o600)
    os.replace(tmp, path)
    log.info("sealing.key_added", key_id=keypair.key_id)
