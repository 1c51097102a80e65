"""The application factory: public forms, staff dashboard, JSON API, static files."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from aiohttp import web

from coordinator.i18n import N_
from coordinator.logs import get_logger
from dsx.web import (
    views_api,
    views_auth,
    views_health,
    views_public,
    views_source,
    views_staff,
)
from dsx.web.csrf import Csrf
from dsx.web.i18n import language_context
from dsx.web.ratelimit import RateLimiter
from dsx.web.render import page, site_context
from dsx.web.security import (
    SETTINGS_KEY,
    PrivateAccessLogger,
    add_security_headers,
    route_pattern,
)
from dsx.web.services import CSRF, LIMITER, SERVICES, WebServices
from dsx.web.settings import WebSettings

log = get_logger(__name__)
STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024  # the longest form is well under this
# Error pages are public pages too: shown in the visitor's language (error.html).
SOMETHING_WRONG = N_("Something went wrong")
NOTHING_SAVED = N_("Nothing was saved. Please try again later.")
ERROR_TITLES = {404: N_("Not found"), 405: N_("Not allowed"), 413: N_("Too large")}
ERROR_TEXTS = {
    404: N_("There is no page at this address."),
    405: N_("This address does not take that kind of request."),
    413: N_("What was sent is too large."),
}


def _error_text(exc: web.HTTPException) -> str:
    """Our own words for a bare HTTP error; a view's own reason is kept as it is."""
    try:
        phrase = HTTPStatus(exc.status).phrase
    except ValueError:
        phrase = ""
    if not exc.reason or exc.reason == phrase:
        return ERROR_TEXTS.get(exc.status, exc.reason or "")
    return exc.reason


@web.middleware
async def friendly_errors(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """HTML error pages for people; the API answers JSON itself."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if request.path.startswith("/api/"):
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            return web.json_response(
                {"error": {"code": f"http_{exc.status}", "message": exc.reason or ""}},
                status=exc.status,
                headers=allow,
            )
        return await views_staff.error_page(
            request,
            status=exc.status,
            title=ERROR_TITLES.get(exc.status, SOMETHING_WRONG),
            message=_error_text(exc),
        )
    except Exception as exc:
        # The type only: a message or traceback could carry what someone typed.
        log.error("web.unhandled", error=type(exc).__name__, route=route_pattern(request))
        if request.path.startswith("/api/"):
            return web.json_response(
                {"error": {"code": "internal", "message": "Internal error."}}, status=500
            )
        return await page(
            "error.html",
            status=500,
            title=SOMETHING_WRONG,
            message=NOTHING_SAVED,
        )


def create_app(settings: WebSettings, services: WebServices) -> web.Application:
    app = web.Application(
        middlewares=[language_context, site_context, friendly_errors], client_max_size=MAX_BODY
    )
    app[SETTINGS_KEY] = settings
    app[SERVICES] = services
    app[CSRF] = Csrf(settings.secret)
    app[LIMITER] = RateLimiter(services.engine, settings.rate_secret, settings.limits)
    app.on_response_prepare.append(add_security_headers)
    app.add_routes(views_health.routes)
    app.add_routes(views_source.routes)
    app.add_routes(views_public.routes)
    app.add_routes(views_auth.routes)
    app.add_routes(views_staff.routes)
    app.add_routes(views_api.routes)
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
    return app


async def start_site(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve with the private access log (no addresses, no user agents)."""
    runner = web.AppRunner(app, access_log_class=PrivateAccessLogger)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (for ``port=0``)."""
    return int(runner.addresses[0][1])
