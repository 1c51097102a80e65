"""Small secrets at rest (access token, cross-signing seeds), sealed with the pickle key.

The nio store already encrypts its Olm pickles with the pickle key; what we keep next to
it must not be weaker, so a copied store folder without the configured key reveals nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nacl import hash as nacl_hash
from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox


class SealedFileError(RuntimeError):
    """The file exists but cannot be opened with this key (wrong key or tampering)."""


def _box(pickle_key: str, purpose: str) -> SecretBox:
    key = nacl_hash.blake2b(
        pickle_key.encode(),
        digest_size=SecretBox.KEY_SIZE,
        person=b"dsx-sealed-v1",
        salt=purpose.encode()[:16].ljust(16, b"\0"),
        encoder=RawEncoder,
    )
    return SecretBox(key)


class SealedFile:
    """One JSON document, encrypted and authenticated, written atomically (mode 0600)."""

    def __init__(self, path: Path, pickle_key: str, purpose: str):
        self.path = path
        self._box = _box(pickle_key, purpose)

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> dict[str, Any] | None:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return json.loads(self._box.decrypt(blob))
        except CryptoError as exc:
            raise SealedFileError(f"{self.path.name}: cannot open (wrong pickle key?)") from exc

    def write(self, document: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self._box.encrypt(json.dumps(document).encode()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
