"""Who is asking, as far as rate limiting needs: the peer address, never stored."""

from __future__ import annotations

from aiohttp import web

from coordinator.web.settings import WebSettings


def client_address(request: web.Request, settings: WebSettings) -> str:
    """The peer; behind a trusted proxy, the last hop it appended to X-Forwarded-For."""
    if settings.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"


def set_cookie(
    response: web.StreamResponse,
    settings: WebSettings,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
) -> None:
    """Every cookie we set: HttpOnly, SameSite=Strict, Secure unless configured off."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="Strict",
    )
