"""Signing in through the one-time link, and signing out.

Opening the link shows a page with a button instead of signing in at once: link
previews (homeservers and chat clients fetch URLs posted in rooms) would otherwise
burn the single-use token, and a SameSite=Strict cookie set during a cross-site
navigation is not sent on the redirect that follows it.
"""

from __future__ import annotations

from aiohttp import web

from coordinator.logs import get_logger
from dsx.web import csrf as csrf_mod
from dsx.web import staff, views_staff
from dsx.web.client import client_address, set_cookie
from dsx.web.ratelimit import Scope
from dsx.web.render import page
from dsx.web.security import SETTINGS_KEY
from dsx.web.services import CSRF, LIMITER, SERVICES

log = get_logger(__name__)
routes = web.RouteTableDef()

DEAD_LINK = (
    "This sign-in link has expired or was already used. Type !dsx login in the staff room "
    "for a new one."
)


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


@routes.get("/login/{token}", name="login_link")
async def login_link(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not await request.app[SERVICES].auth.link_is_live(token):
        return await views_staff.error_page(
            request, status=410, title="Link expired", message=DEAD_LINK
        )
    binding, new = csrf_mod.browser_binding(request)
    response = await page("login.html", token=token, csrf_token=request.app[CSRF].token(binding))
    if new:
        set_cookie(response, request.app[SETTINGS_KEY], csrf_mod.COOKIE, binding)
    return response


@routes.post("/login", name="login")
async def login(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    form = await request.post()
    token, csrf_token = form.get("token"), form.get(csrf_mod.FIELD)
    if not isinstance(token, str) or not request.app[CSRF].valid(
        request.cookies.get(csrf_mod.COOKIE), csrf_token if isinstance(csrf_token, str) else None
    ):
        raise web.HTTPForbidden(reason="Open the sign-in link again.")
    if not await request.app[LIMITER].allow(Scope.SIGN_IN, client_address(request, settings)):
        raise web.HTTPTooManyRequests(reason="Too many attempts; wait a minute.")
    session = await request.app[SERVICES].auth.redeem(token)
    if session is None:
        log.info("web.login_refused")
        return await views_staff.error_page(
            request, status=410, title="Link expired", message=DEAD_LINK
        )
    log.info("web.login")
    response = see_other("/dashboard")
    set_cookie(
        response, settings, staff.SESSION_COOKIE, session, max_age=settings.session_minutes * 60
    )
    return response


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    session, form = await staff.check_post(request)
    if session is not None:
        auth = request.app[SERVICES].auth
        await auth.end_session(request.cookies[staff.SESSION_COOKIE])
        # API tokens outlive a sign-out unless the staff member asks otherwise.
        if form.get("revoke_tokens") == "1":
            await auth.revoke_all_api_tokens(session.staff)
    response = see_other("/")
    response.del_cookie(staff.SESSION_COOKIE, path="/")
    return response
