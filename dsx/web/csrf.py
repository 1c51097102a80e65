"""CSRF tokens: an HMAC of a binding (the browser's CSRF cookie, or the staff session).

A signed token instead of a stored one: nothing to keep per form, and a token lifted
from one browser is useless with another browser's cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from aiohttp import web

FIELD = "csrf_token"
COOKIE = "dsx_csrf"


class Csrf:
    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"dsx-csrf\x00" + secret).digest()

    def token(self, binding: str) -> str:
        mac = hmac.new(self._key, binding.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def valid(self, binding: str | None, token: str | None) -> bool:
        if not binding or not token:
            return False
        return hmac.compare_digest(self.token(binding), token)


def browser_binding(request: web.Request) -> tuple[str, bool]:
    """The CSRF cookie value, and whether it must be set on the response (new)."""
    value = request.cookies.get(COOKIE)
    if value and 20 <= len(value) <= 64:
        return value, False
    return secrets.token_urlsafe(24), True
