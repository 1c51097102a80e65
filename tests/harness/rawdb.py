"""The raw bytes of a SQLite database, to prove that a value is gone from the files
(purged, or never stored in the clear), not merely hidden from queries."""

from __future__ import annotations

from pathlib import Path

SUFFIXES = ("", "-wal", "-journal")  # the database, its write-ahead log, a rollback journal


def sqlite_path(where: str | Path) -> Path:
    """The file of a ``sqlite+aiosqlite:///…`` URL (a path is returned as it is)."""
    text = str(where)
    return Path(text.split(":///", 1)[1]) if text.startswith("sqlite") else Path(text)


def sqlite_files(where: str | Path) -> list[Path]:
    """The database file and whatever WAL or journal lies beside it."""
    path = sqlite_path(where)
    return [p for p in (Path(f"{path}{s}") for s in SUFFIXES) if p.exists()]


def sqlite_bytes(where: str | Path) -> bytes:
    return b"".join(p.read_bytes() for p in sqlite_files(where))
