"""The audit key: the secret that keys the audit chain, kept in a file outside the database.

Whoever owns the database can rewrite rows and recompute plain hashes; without this key
they cannot compute an entry's HMAC, so a rewrite shows (docs/security.md, "Audit log").
The file also pins the chain written before the key existed (``legacy_entries`` entries,
plain SHA-256, ending in ``legacy_head``): those verify as before, and every later entry
must carry the key, so a downgrade to the old scheme is a break too.

Production never makes a key on its own: a missing file is a start-up error saying what
to do. Only the embedded defaults (tests, ad-hoc runs without a file) create one.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from coordinator.config import Config

GENESIS = "0" * 64
KEY_FILE = "audit.key"
KEY_BYTES = 32
DEFAULTS_SOURCE = "<defaults>"
_HEX64 = re.compile(r"[0-9a-f]{64}")

_HEADER = """\
# The DSX audit key: every audit-log entry carries an HMAC-SHA256 made with it.
# Keep it secret (mode 0600), never replace it, back it up with the other keys
# (docs/operator.md). Losing it makes the existing chain unverifiable.
"""


class AuditKeyError(Exception):
    """The key file is missing or unreadable; the message says what to do."""


@dataclass(frozen=True)
class AuditKey:
    secret: bytes = field(repr=False)
    # Entries written before the key existed (plain SHA-256) and the hash of the last one.
    legacy_entries: int = 0
    legacy_head: str = GENESIS

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise AuditKeyError(f"an audit key has {KEY_BYTES} bytes, got {len(self.secret)}")
        if self.legacy_entries < 0 or not _HEX64.fullmatch(self.legacy_head):
            raise AuditKeyError("legacy_entries must be 0 or more and legacy_head 64 hex digits")


def key_path(config: Config) -> Path:
    """``[audit] key_file``, or ``keys/audit.key`` in the data folder (where `dsx init` puts it)."""
    return Path(config.audit.key_file or Path(config.data_dir) / "keys" / KEY_FILE)


def missing_message(path: Path, config: Config) -> str:
    source = config.source
    return (
        f"audit key file {path} not found. A new deployment gets it from `dsx init`; for a "
        f"database from before the audit key, stop the coordinator and run "
        f"`dsx audit keygen --config {source}` once; if it was lost, restore it from the "
        "backup of the keys folder (docs/operator.md)."
    )


def read(path: Path) -> AuditKey:
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise AuditKeyError(f"audit key file {path} not found") from None
    except OSError as exc:
        raise AuditKeyError(f"audit key file {path}: cannot read it ({exc.strerror})") from None
    try:
        doc = tomllib.loads(text)
        secret = bytes.fromhex(doc["key"])
        return AuditKey(secret, int(doc["legacy_entries"]), str(doc["legacy_head"]))
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, AuditKeyError) as exc:
        reason = exc if isinstance(exc, AuditKeyError) else "not an audit key file"
        raise AuditKeyError(f"audit key file {path}: {reason}") from None


def create(path: Path, legacy_entries: int = 0, legacy_head: str = GENESIS) -> AuditKey:
    """Write a fresh key (0600), atomically and never over an existing file."""
    path = Path(path)
    key = AuditKey(secrets.token_bytes(KEY_BYTES), legacy_entries, legacy_head)
    text = (
        f'{_HEADER}key = "{key.secret.hex()}"\n'
        f"# The chain written before this key existed: so many entries, ending in this hash.\n"
        f"legacy_entries = {legacy_entries}\n"
        f'legacy_head = "{legacy_head}"\n'
    )
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to replace the audit key")
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # A hard link fails if the name exists: two processes racing both keep one key.
        os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return key


def require(config: Config) -> AuditKey | None:
    """The key of a configuration loaded from a file (an error if it is missing); None for
    the embedded defaults, which make one once the database is known (``for_config``)."""
    path = key_path(config)
    if config.source == DEFAULTS_SOURCE and not path.exists():
        return None
    if not path.exists():
        raise AuditKeyError(missing_message(path, config))
    return read(path)


async def for_config(config: Config, engine: AsyncEngine) -> AuditKey:
    """The key to write and verify with. The embedded defaults make one when it is missing,
    pinning the chain already in the database; any other configuration must have it."""
    key = require(config)
    if key is not None:
        return key
    from coordinator.audit import head

    path = key_path(config)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pinned = await head(engine)
    try:
        return create(path, pinned.count, pinned.hash)
    except FileExistsError:  # another process of the same defaults made it first
        return read(path)
