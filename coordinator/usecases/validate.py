"""Input checks shared by the use cases; each failure is a typed, human-readable error."""

from __future__ import annotations

import re
from collections.abc import Iterable

from coordinator.domain import InvalidInput
from coordinator.routing import languages as langs

_HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_MXID = re.compile(r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:\d+)?$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def handle(field: str, value: str) -> str:
    if not isinstance(value, str) or not _HANDLE.match(value):
        raise InvalidInput(field, "use 2-63 lowercase letters, digits, dots, dashes or underscores")
    return value


def mxid(field: str, value: str) -> str:
    if not isinstance(value, str) or not _MXID.match(value):
        raise InvalidInput(field, "must be a Matrix user id like @name:server")
    return value


def member_id(field: str, value: str) -> str:
    if isinstance(value, str) and value.startswith("@"):
        return mxid(field, value)
    return handle(field, value)


def tags(field: str, values: Iterable[str], *, required: bool = False) -> frozenset[str]:
    out = frozenset(v.strip().lower() for v in values if v and v.strip())
    bad = sorted(v for v in out if not _TAG.match(v))
    if bad:
        raise InvalidInput(field, f"not a valid tag: {bad[0]!r} (letters, digits, - and _)")
    if required and not out:
        raise InvalidInput(field, "at least one is required")
    if len(out) > 30:
        raise InvalidInput(field, "at most 30 values")
    return out


def languages(field: str, values: Iterable[str], *, required: bool = False) -> frozenset[str]:
    """BCP 47 tags in their canonical spelling (``ES-mx`` → ``es-MX``), each a known language."""
    out: set[str] = set()
    for value in values:
        if not value or not value.strip():
            continue
        try:
            out.add(langs.standard(value))
        except langs.BadLanguage:
            raise InvalidInput(
                field, f"not a language code: {value.strip()[:40]!r} (for example en, es, es-MX)"
            ) from None
    if required and not out:
        raise InvalidInput(field, "at least one is required")
    if len(out) > 30:
        raise InvalidInput(field, "at most 30 values")
    return frozenset(out)


def region(field: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip().upper()
    if not _REGION.match(value):
        raise InvalidInput(field, "must be a country code, optionally with a subdivision (US-CA)")
    return value


def reason_code(field: str, value: str) -> str:
    if not isinstance(value, str) or not _CODE.match(value):
        raise InvalidInput(field, "must be a short code like hate_agenda (a-z, 0-9, _)")
    return value


def rating(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidInput(field, "must be a whole number from 1 to 5")
    return value


def capacity(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50:
        raise InvalidInput("capacity", "must be a whole number from 1 to 50")
    return value


def text(field: str, value: str | None, limit: int = 4000) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > limit:
        raise InvalidInput(field, f"at most {limit} characters")
    return value


def is_us(region_code: str | None) -> bool:
    """No region means the U.S. (the DSX mandate); otherwise the country code decides."""
    return region_code is None or region_code.split("-", 1)[0] == "US"
