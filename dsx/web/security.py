"""Headers on every response, and an access log that knows no one.

Headers are added in ``on_response_prepare`` rather than a middleware so that error
pages, redirects and static files get them too. The access log records the route
pattern (``/login/{token}``, never the token), the status and the duration: no
address, no user agent, no referrer, no query string.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from coordinator.logs import get_logger
from dsx.web.client import from_trusted_proxy
from dsx.web.settings import WebSettings

log = get_logger("dsx.web.access")

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
PRIVATE_PREFIXES = ("/dashboard", "/login", "/logout", "/api/")
SETTINGS_KEY: web.AppKey[WebSettings] = web.AppKey("dsx_web_settings", WebSettings)


def is_tls(request: web.BaseRequest, settings: WebSettings) -> bool:
    if request.secure:
        return True
    if from_trusted_proxy(request, settings):
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.split(",")[0].strip().lower() == "https"
    return False


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    settings = request.app[SETTINGS_KEY]
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    if request.path.startswith(PRIVATE_PREFIXES):
        headers["X-Robots-Tag"] = "noindex, nofollow"
    if settings.hsts and is_tls(request, settings):
        headers["Strict-Transport-Security"] = HSTS
    headers.pop("Server", None)


def route_pattern(request: web.BaseRequest) -> str:
    """The matched route's pattern: ids and tokens in the path stay out of the log."""
    match_info = getattr(request, "match_info", None)
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is not None:
        return resource.canonical
    return "(unmatched)"


class PrivateAccessLogger(AbstractAccessLogger):
    """Pass as ``access_log_class`` to ``web.AppRunner`` / ``web.run_app``."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        log.info(
            "web.access",
            method=request.method,
            route=route_pattern(request),
            status=response.status,
            ms=round(time * 1000, 1),
        )

    @property
    def enabled(self) -> bool:
        return True
