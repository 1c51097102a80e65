"""The public pages: home, and the two intake forms."""

from __future__ import annotations

from aiohttp import web

from coordinator.forms import SCHEMAS, FormKind, Submission, summary, validate
from coordinator.i18n import N_, current
from coordinator.logs import get_logger
from dsx.web import csrf as csrf_mod
from dsx.web.client import client_address, set_cookie
from dsx.web.ratelimit import Scope
from dsx.web.render import page
from dsx.web.security import SETTINGS_KEY
from dsx.web.services import CSRF, LIMITER, SERVICES

log = get_logger(__name__)
routes = web.RouteTableDef()

RATE_LIMITED = N_(
    "Too many submissions from your connection just now. Nothing you typed was lost: "
    "wait a few minutes and send again. If it is happening now, reach us directly (below)."
)
BUSY = N_(
    "We are receiving very many submissions just now. Nothing you typed was lost: wait a "
    "few minutes and send again. If it is happening now, reach us directly (below)."
)
CSRF_EXPIRED = N_(
    "This form had expired (or came from another site). Nothing you typed was lost: "
    "check it and send it again."
)


@routes.get("/", name="home")
async def home(request: web.Request) -> web.Response:
    return await page("home.html")


def _action(kind: FormKind) -> str:
    """Where the form posts: a chosen language rides along, so the error re-render and the
    thanks page keep it even where the cookie was refused."""
    lang = current()
    return f"/{kind.value}?lang={lang.tag}" if lang.explicit else f"/{kind.value}"


async def _render_form(
    request: web.Request,
    kind: FormKind,
    sub: Submission | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> web.Response:
    binding, new = csrf_mod.browser_binding(request)
    schema = SCHEMAS[kind]
    response = await page(
        "form.html",
        status=status,
        schema=schema,
        sub=sub or Submission(kind, {}),
        errors=errors or {},
        summary=summary(schema, errors or {}),
        notice=notice,
        action=_action(kind),
        csrf_token=request.app[CSRF].token(binding),
    )
    if new:
        set_cookie(response, request.app[SETTINGS_KEY], csrf_mod.COOKIE, binding)
    return response


async def _submit(request: web.Request, kind: FormKind) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    form = await request.post()
    result = validate(SCHEMAS[kind], form)
    token = form.get(csrf_mod.FIELD)
    binding = request.cookies.get(csrf_mod.COOKIE)
    if not request.app[CSRF].valid(binding, token if isinstance(token, str) else None):
        log.info("web.csrf_rejected", form=kind.value)
        return await _render_form(request, kind, result.submission, {}, CSRF_EXPIRED, 403)
    limiter = request.app[LIMITER]
    # Every post counts against its sender's own budget, valid or not.
    if not await limiter.allow(Scope.FORMS, client_address(request, settings)):
        log.info("web.rate_limited", form=kind.value, limit=Scope.FORMS.value)
        return await _render_form(
            request, kind, result.submission, dict(result.errors), RATE_LIMITED, 429
        )
    if not result.ok:
        return await _render_form(request, kind, result.submission, dict(result.errors), "", 400)
    # Only a submission about to be stored spends the budget shared by everyone.
    if not await limiter.allow_overall(Scope.FORMS_OVERALL):
        log.info("web.rate_limited", form=kind.value, limit=Scope.FORMS_OVERALL.value)
        return await _render_form(request, kind, result.submission, {}, BUSY, 429)
    receipt = await request.app[SERVICES].intake.submit(result.submission)
    log.info("web.intake_received", form=kind.value, referral=receipt.referral)
    return await page("thanks.html", receipt=receipt, kind=kind.value)


def _register(kind: FormKind) -> None:
    async def show(request: web.Request) -> web.Response:
        return await _render_form(request, kind)

    async def submit(request: web.Request) -> web.Response:
        return await _submit(request, kind)

    routes.get(f"/{kind.value}", name=f"{kind.value}_form")(show)
    routes.post(f"/{kind.value}", name=f"{kind.value}_submit")(submit)


for _kind in FormKind:
    _register(_kind)
