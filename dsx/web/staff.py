"""Who the staff member is on this request, and the CSRF token bound to their session."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from dsx.web.render import page
from dsx.web.services import CSRF, SERVICES

SESSION_COOKIE = "dsx_session"


@dataclass(frozen=True)
class StaffSession:
    staff: str
    csrf_token: str


def _binding(session_token: str) -> str:
    return "session:" + session_token


async def current(request: web.Request) -> StaffSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    staff = await request.app[SERVICES].auth.session_staff(token)
    if staff is None or token is None:
        return None
    return StaffSession(staff, request.app[CSRF].token(_binding(token)))


async def signed_out(status: int = 401) -> web.Response:
    return await page(
        "error.html",
        status=status,
        title="Sign in",
        message="Type !dsx login in the staff room; the bot sends you a one-time link.",
    )


async def check_post(request: web.Request) -> tuple[StaffSession | None, dict[str, str]]:
    """A staff form post: the session, and the form if its CSRF token is right."""
    session = await current(request)
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if session is None:
        return None, {}
    if not request.app[CSRF].valid(
        _binding(request.cookies.get(SESSION_COOKIE, "")), fields.get("csrf_token")
    ):
        raise web.HTTPForbidden(reason="This form had expired; reload the page and try again.")
    return session, fields
