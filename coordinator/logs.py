"""Structured logging that cannot leak what it must not hold.

Every record goes out as one JSON object per line (for machines), or as one readable line
(``format="console"``, for people at a terminal); timestamps are ISO 8601 in UTC. Two
layers keep personal data out of both:

* call sites pass an event name plus typed fields (``log.info("request.filed", case=ref)``),
  never message text;
* a scrubbing filter on the root handler rewrites anything that still looks like an IP
  address, an e-mail address, a phone number or a Matrix user id, including records from
  libraries we do not control (nio, aiohttp, SQLAlchemy), and caps the length of strings.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
# Either a "::" compression or four or more colon-separated hex groups.
_IPV6 = re.compile(
    r"(?<![\w:])[0-9A-Fa-f:]*::[0-9A-Fa-f:]*(?![\w:])"
    r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}(?![\w:])"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MXID = re.compile(r"@[A-Za-z0-9._=/+-]+:([A-Za-z0-9.-]+(?::\d+)?)")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ()-]{7,}\d(?!\w)")
MAX_FIELD = 200

# Fields a structured record may carry next to the standard ones.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def scrub(text: str) -> str:
    """Remove addresses and identifiers from free text; used on every log line."""
    text = _EMAIL.sub("[email]", text)
    text = _MXID.sub(lambda m: f"@[user]:{m.group(1)}", text)
    text = _IPV4.sub("[ip]", text)
    text = _IPV6.sub("[ip]", text)
    text = _PHONE.sub("[phone]", text)
    if len(text) > MAX_FIELD:
        text = text[:MAX_FIELD] + "…"
    return text


def _safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe(v) for v in list(value)[:20]]
    if isinstance(value, Mapping):
        return {str(k): _safe(v) for k, v in list(value.items())[:20]}
    return scrub(str(value))


def iso_time(created: float) -> str:
    """``2026-12-04T18:55:01.123Z``: sortable, unambiguous, and the same in every log."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: _safe(value)
        for key, value in record.__dict__.items()
        if key not in _RESERVED and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": scrub(record.getMessage()),
        }
        out.update(_fields(record))
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: tracebacks can carry arguments and message text.
            out["error"] = record.exc_info[0].__name__
        return json.dumps(out, ensure_ascii=False, sort_keys=False)


class ConsoleFormatter(logging.Formatter):
    """``18:55:01.123Z info  service.ready rooms=3``: the same scrubbed fields, for eyes."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info and record.exc_info[0] is not None:
            fields["error"] = record.exc_info[0].__name__
        extra = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())
        line = (
            f"{iso_time(record.created)} {record.levelname.lower():<7} {scrub(record.getMessage())}"
        )
        return f"{line} {extra}" if extra else line


FORMATS = ("json", "console", "auto")


class ScrubFilter(logging.Filter):
    """Applied to handlers so that even ``%s``-style records from libraries are scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = scrub(record.getMessage())
        except Exception:  # a broken format string must not crash logging
            record.msg = scrub(str(record.msg))
        record.args = None
        return True


class EventLogger:
    """``log.info("event.name", key=value)``: an event name and typed, scrubbed fields."""

    def __init__(self, name: str):
        self._logger = logging.getLogger(name)

    def _log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            exc = fields.pop("exc_info", None)
            extra = {k if k not in _RESERVED else f"{k}_": v for k, v in fields.items()}
            self._logger.log(level, event, extra=extra, exc_info=exc, stacklevel=3)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)


def get_logger(name: str) -> EventLogger:
    return EventLogger(name)


def setup(level: str = "INFO", stream: Any = None, fmt: str = "json") -> None:
    """Install the scrubbing handler on the root logger (idempotent).

    ``fmt`` is ``json``, ``console``, or ``auto``: console when the stream is a terminal.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_dsx", False):
            root.removeHandler(handler)
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    handler._dsx = True  # type: ignore[attr-defined]
    console = fmt == "console" or (fmt == "auto" and getattr(out, "isatty", lambda: False)())
    handler.setFormatter(ConsoleFormatter() if console else JsonFormatter())
    handler.addFilter(ScrubFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries that log request lines or event bodies at debug/info stay quiet.
    # Alembic says seven lines at every start; `store.migrated` says what matters.
    for noisy in ("nio", "aiohttp.access", "peewee", "sqlalchemy.engine", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
