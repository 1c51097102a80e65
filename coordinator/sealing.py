"""Sealing of personal data at rest with libsodium sealed boxes (``crypto_box_seal``).

Organization names, contacts and free text are sealed with a public key the moment they
arrive, so the web process and the database hold only ciphertext: a stolen web server or
database dump reveals nothing. Only the delivery process, which holds the private key(s),
can open a blob, right before the text goes into its end-to-end-encrypted room.

A sealed blob is self-describing so keys can rotate without a migration::

    version (1 byte, 0x02) | key id (8 bytes) | sealed box (48 bytes overhead + envelope)

The key id is a short BLAKE2b hash of the public key; an :class:`Opener` holds a key ring
and picks the private key by that id. :func:`reseal` moves old blobs to a new key.

A blob is bound to the row it was sealed for. The sealed plaintext is an envelope that
names the row's owner, scope and field before the value::

    len(owner) | len(scope) | len(field) (2 bytes each, big-endian) | owner | scope | field
    | value

Opening takes the :class:`Binding` of the row the blob was read from and refuses
(:class:`MisplacedBlob`) a blob sealed for another row. Without it, anyone able to write
to the database (not to read it) could copy an organization's sealed contact into a
public-form submission's row and have delivery open it into that submission's room.
The header is not authenticated, which is why the binding sits inside the box: the web
process could forge a blob for any row (it has the public key), but only with text it
already knows, never move one it cannot read.

Format 1 blobs (before the binding) are refused, not trusted: nothing in them says which
row they belong to, so accepting them would keep the copy attack open for every old blob
(and anyone can turn a format 2 header into a format 1 one). Opening one raises
:class:`MisplacedBlob`, so a database from before keeps its rows but delivers none of
them: their values have to be entered again.

Key files are one base64 key per line (``#`` comments allowed). A private key file may
hold several keys (a ring, newest first); the public key file holds exactly one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from coordinator.logs import get_logger

log = get_logger(__name__)

VERSION = 2
LEGACY_VERSION = 1  # unbound blobs, refused (see above)
_LENGTHS = struct.Struct(">HHH")
KEY_ID_BYTES = 8
KEY_BYTES = 32
_HEADER = 1 + KEY_ID_BYTES
SEAL_OVERHEAD = 48  # ephemeral public key (32) + MAC (16)
PUBLIC_FILE = "sealing.pub"
PRIVATE_FILE = "sealing.key"
# The first line of each file `write_keypair` writes (comments: the keys are unchanged).
# Both halves are 32 bytes of base64, so only this says which is which: a public-key
# path that names a private key file is refused, never used to seal.
PUBLIC_MARK = "# dsx sealing public key"
PRIVATE_MARK = "# dsx sealing private key: the bot role's alone, never the web role's"


class SealingError(Exception):
    """A blob could not be opened: unknown key, tampering, or not a sealed blob at all."""


class MisplacedBlob(SealingError):
    """The blob opens, but was not sealed for the row it was read from (moved or copied
    there, or a format 1 blob bound to no row): its value must not be used."""


@dataclass(frozen=True)
class Binding:
    """The row a blob is sealed for: the ``sealed`` table's owner, scope and field."""

    owner: str
    scope: str
    field: str

    def envelope(self, value: bytes) -> bytes:
        parts = [p.encode("utf-8") for p in (self.owner, self.scope, self.field)]
        if any(len(p) > 0xFFFF for p in parts):
            raise SealingError("an owner, scope or field name is too long to bind")
        return _LENGTHS.pack(*(len(p) for p in parts)) + b"".join(parts) + value

    def unwrap(self, plaintext: bytes) -> bytes:
        """The value inside an envelope sealed for this row, or :class:`MisplacedBlob`."""
        if len(plaintext) < _LENGTHS.size:
            raise SealingError("sealed envelope is truncated")
        sizes = _LENGTHS.unpack_from(plaintext)
        start = _LENGTHS.size
        names: list[bytes] = []
        for size in sizes:
            names.append(plaintext[start : start + size])
            start += size
        if start > len(plaintext):
            raise SealingError("sealed envelope is truncated")
        if names != [p.encode("utf-8") for p in (self.owner, self.scope, self.field)]:
            raise MisplacedBlob("sealed for another row; refused")
        return plaintext[start:]


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

    def seal(self, plaintext: str | bytes, binding: Binding) -> bytes:
        """Seal ``plaintext`` for the row ``binding`` names (and only that row)."""
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else bytes(plaintext)
        return self._header + self._box.encrypt(binding.envelope(data))

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

    def open(self, sealed: bytes, binding: Binding) -> bytes:
        """The value of a blob read from the row ``binding`` names; a blob sealed for any
        other row (or for none: format 1) raises :class:`MisplacedBlob`."""
        _check_header(sealed)
        box = self._boxes.get(bytes(sealed[1:_HEADER]))
        if box is None:
            raise SealingError(f"sealed to key {sealed[1:_HEADER].hex()}, which is not in the ring")
        try:
            plaintext = box.decrypt(bytes(sealed[_HEADER:]))
        except CryptoError as exc:
            raise SealingError("sealed blob failed authentication (tampered or corrupt)") from exc
        return binding.unwrap(plaintext)

    def open_text(self, sealed: bytes, binding: Binding) -> str:
        try:
            return self.open(sealed, binding).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SealingError("sealed blob does not hold UTF-8 text") from exc

    def __repr__(self) -> str:
        return f"Opener(key_ids={self.key_ids!r})"


def _check_header(sealed: bytes) -> None:
    if not isinstance(sealed, bytes | bytearray | memoryview):
        raise SealingError(f"a sealed blob is bytes, got {type(sealed).__name__}")
    if len(sealed) < _HEADER + SEAL_OVERHEAD:
        raise SealingError("too short to be a sealed blob")
    if sealed[0] == LEGACY_VERSION:
        raise MisplacedBlob("format 1 blob, bound to no row; refused")
    if sealed[0] != VERSION:
        raise SealingError(f"unknown sealed-blob version {sealed[0]}")


def reseal(blob: bytes, opener: Opener, new_sealer: PublicSealer, binding: Binding) -> bytes:
    """Re-seal one blob of the row ``binding`` to the new key, bound to the same row; a
    blob already on the new key is returned unchanged, a misplaced one is refused."""
    if opener.key_id_of_blob(blob) == new_sealer.key_id:
        return bytes(blob)
    return new_sealer.seal(opener.open(blob, binding), binding)


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


def write_keypair(
    directory: Path, keypair: SealingKeyPair | None = None, *, private_path: Path | None = None
) -> tuple[Path, Path]:
    """Write a fresh (or given) pair as ``sealing.pub`` (0644) and ``sealing.key`` (0600).

    The private key goes to ``private_path`` when given (``dsx init`` puts it in a folder
    of its own, 0700, that only the bot role's user enters), else beside the public key.
    Refuses to overwrite either file: losing a private key loses every blob sealed to it.
    Returns ``(public_path, private_path)``.
    """
    directory = Path(directory)
    pair = keypair or generate_keypair()
    public_path = directory / PUBLIC_FILE
    private_path = Path(private_path) if private_path else directory / PRIVATE_FILE
    for path in (public_path, private_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; refusing to overwrite a sealing key")
    directory.mkdir(parents=True, exist_ok=True)
    private_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_new(private_path, PRIVATE_MARK.encode() + b"\n" + _encode(pair.private), 0o600)
    _write_new(public_path, PUBLIC_MARK.encode() + b"\n" + _encode(pair.public), 0o644)
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
    """The sealer of a public key file; a file marked as a private key is refused."""
    if PRIVATE_MARK in Path(path).read_text("ascii").splitlines():
        raise SealingError(f"{path}: this is a private key; give the public key (sealing.pub)")
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
