"""The public pages' language middleware: negotiate per request, remember a chosen
language in a cookie. The catalogs and negotiation rules live in ``coordinator.i18n``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from coordinator.i18n import COOKIE, COOKIE_MAX_AGE, CURRENT, QUERY, is_public, negotiate, supported


@web.middleware
async def language_context(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Set the response language; a ``?lang=`` choice is remembered in a cookie."""
    from dsx.web.security import SETTINGS_KEY

    if not is_public(request.path):
        return await handler(request)
    lang = negotiate(request.query, request.cookies, request.headers.get("Accept-Language", ""))
    token = CURRENT.set(lang)
    try:
        response = await handler(request)
    finally:
        CURRENT.reset(token)
    _remember(request, response, request.app[SETTINGS_KEY].secure_cookies)
    return response


def _remember(request: web.Request, response: Any, secure: bool) -> None:
    """Vary on what chose the language; store a link's choice (the visitor asked for it)."""
    if not isinstance(response, web.StreamResponse) or response.prepared:
        return
    if response.content_type == "text/html":
        response.headers.add("Vary", "Accept-Language, Cookie")
    chosen = supported(request.query.get(QUERY))
    if chosen and request.cookies.get(COOKIE) != chosen:
        # Lax: the choice must survive arriving from a link on another site.
        response.set_cookie(
            COOKIE,
            chosen,
            max_age=COOKIE_MAX_AGE,
            path="/",
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
