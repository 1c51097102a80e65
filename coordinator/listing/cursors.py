"""Keyset cursors for the desk's lists: the last row's sort key, signed, so a forged or
edited one is refused as ``BadCursor`` whatever was changed, and says nothing about why."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from coordinator.store.clock import aware

MAX_CURSOR = 600


class BadCursor(ValueError):
    """A cursor this coordinator did not hand out for this list and sort (or edited)."""

    message = "This page link is not valid (edited, or from another list); start from page 1."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cursors:
    """Seals and opens keyset cursors: ``base64(json).base64(hmac)``."""

    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"dsx-list-cursor\x00" + secret).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def seal(self, listing: str, sort: str, key: Sequence[Any]) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
        body = json.dumps([listing, sort, values], separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def open(self, token: str, listing: str, sort: str, kinds: Sequence[str]) -> tuple[Any, ...]:
        try:
            if len(token) > MAX_CURSOR:
                raise ValueError
            head, _, tail = token.partition(".")
            body, mac = _unb64(head), _unb64(tail)
            if not hmac.compare_digest(self._mac(body), mac):
                raise ValueError
            name, order, values = json.loads(body)
            if name != listing or order != sort or len(values) != len(kinds):
                raise ValueError
            return tuple(_typed(kind, v) for kind, v in zip(kinds, values, strict=True))
        except (ValueError, TypeError, UnicodeDecodeError):
            raise BadCursor(BadCursor.message) from None


def _typed(kind: str, value: Any) -> Any:
    if kind == "time" and isinstance(value, str):
        return aware(datetime.fromisoformat(value))
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    raise ValueError(kind)
