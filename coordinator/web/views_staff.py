"""The staff dashboard: server-rendered pages over the read model, and staff actions.

Actions call the same coordinator use cases as the room commands, with the staff
member's Matrix id as the actor, so the audit log cannot tell them apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from coordinator.domain import DomainError
from coordinator.logs import get_logger
from coordinator.usecases.acting import Acting
from coordinator.web import queries, staff, svg
from coordinator.web.actions import staff_caller
from coordinator.web.render import page
from coordinator.web.security import SETTINGS_KEY
from coordinator.web.services import SERVICES

log = get_logger(__name__)
routes = web.RouteTableDef()

Handler = Callable[[web.Request, staff.StaffSession], Awaitable[web.StreamResponse]]


def staff_page(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = await staff.current(request)
        if session is None:
            return await staff.signed_out()
        return await handler(request, session)

    return wrapped


def sla_policy(request: web.Request) -> queries.SlaPolicy:
    s = request.app[SETTINGS_KEY]
    return queries.SlaPolicy(s.sla_minutes_critical, s.sla_minutes_high)


async def render(session: staff.StaffSession, name: str, **context: Any) -> web.Response:
    return await page(name, session=session, now=datetime.now(UTC), **context)


@routes.get("/dashboard", name="dashboard")
@staff_page
async def dashboard(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    engine = request.app[SERVICES].engine
    return await render(
        session,
        "dash_requests.html",
        requests=await queries.open_requests(engine, datetime.now(UTC), sla_policy(request)),
    )


@routes.get("/dashboard/proposals", name="proposals")
@staff_page
async def proposals(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    rows = await queries.pending_proposals(request.app[SERVICES].engine)
    return await render(session, "dash_proposals.html", proposals=rows)


@routes.get("/dashboard/engagements", name="engagements")
@staff_page
async def engagements(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    rows = await queries.engagement_rows(request.app[SERVICES].engine)
    return await render(session, "dash_engagements.html", engagements=rows)


@routes.get("/dashboard/vetting", name="vetting")
@staff_page
async def vetting(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    engine = request.app[SERVICES].engine
    queue = await queries.applicants(engine)
    explainer = request.app[SERVICES].trust
    explained = {a.id: await explainer.explain(a.id) for a in queue}
    last = await queries.last_vet_decisions(engine, [a.id for a in queue])
    return await render(session, "dash_vetting.html", queue=queue, explained=explained, last=last)


@routes.get("/dashboard/members/{member_id}", name="member")
@staff_page
async def member(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    member_id = request.match_info["member_id"]
    engine = request.app[SERVICES].engine
    row = await queries.member(engine, member_id)
    if row is None:
        raise web.HTTPNotFound(reason="No member with that id.")
    explanation = await request.app[SERVICES].trust.explain(member_id)
    radius = await request.app[SERVICES].trust.impact(member_id)
    paths = list(explanation.disjoint_paths) if explanation else []
    if explanation and explanation.shortest_path:
        paths.append(explanation.shortest_path)
    on_paths = tuple(dict.fromkeys(m for p in paths for m in p))
    hood = await queries.neighbourhood(engine, member_id, must_include=on_paths)
    return await render(
        session,
        "dash_member.html",
        member=row,
        explanation=explanation,
        radius=radius,
        graph=svg.render(hood, paths),
    )


@routes.get("/dashboard/identities", name="identities")
@staff_page
async def identities(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    pending = request.app[SERVICES].actions.pending_identities()
    return await render(session, "dash_identities.html", pending=sorted(pending.items()))


@routes.get("/dashboard/audit", name="audit")
@staff_page
async def audit_log(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    services = request.app[SERVICES]
    engine = services.engine
    return await render(
        session,
        "dash_audit.html",
        chain=await queries.audit_status(engine, services.audit_key),
        entries=await queries.audit_rows(engine),
    )


@routes.get("/dashboard/retention", name="retention")
@staff_page
async def retention(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    items = await queries.retention_queue(request.app[SERVICES].engine)
    return await render(session, "dash_retention.html", items=items)


@routes.get("/dashboard/stats", name="stats")
@staff_page
async def stats(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    return await render(
        session, "dash_stats.html", stats=await queries.stats(request.app[SERVICES].engine)
    )


async def _tokens_page(
    request: web.Request,
    session: staff.StaffSession,
    *,
    token: str | None = None,
    notice: str = "",
    notice_ok: bool = True,
    status: int = 200,
) -> web.Response:
    """The caller's own tokens only: ids, labels and times, never a secret but the new one."""
    auth = request.app[SERVICES].auth
    response = await render(
        session,
        "dash_token.html",
        token=token,
        tokens=await auth.api_tokens(session.staff),
        days=auth.api_token_days,
        notice=notice,
        notice_ok=notice_ok,
    )
    response.set_status(status)
    return response


@routes.get("/dashboard/api-token", name="api_token")
@staff_page
async def api_token_page(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    return await _tokens_page(request, session)


@routes.post("/dashboard/api-token", name="api_token_issue")
async def api_token_issue(request: web.Request) -> web.StreamResponse:
    session, form = await staff.check_post(request)
    if session is None:
        return await staff.signed_out()
    auth = request.app[SERVICES].auth
    token = await auth.issue_api_token(session.staff, form.get("label", ""))
    log.info("web.api_token_issued")
    return await _tokens_page(request, session, token=token)


@routes.post("/dashboard/api-token/revoke", name="api_token_revoke")
async def api_token_revoke(request: web.Request) -> web.StreamResponse:
    """Revoke one of the caller's tokens; another's is answered like one that never was."""
    session, form = await staff.check_post(request)
    if session is None:
        return await staff.signed_out()
    token_id = form.get("token_id", "").strip()
    auth = request.app[SERVICES].auth
    if token_id and await auth.revoke_api_token(token_id, owner=session.staff, actor=session.staff):
        return await _tokens_page(request, session, notice=f"Token {token_id} revoked.")
    return await _tokens_page(
        request, session, notice="No such token.", notice_ok=False, status=404
    )


# -- actions -------------------------------------------------------------------------


async def _act(
    request: web.Request, what: str, call: Callable[[dict[str, str], Acting], Awaitable[Any]]
) -> web.StreamResponse:
    """Every dashboard action: a signed-in staff session with its CSRF token, or nothing
    (no other caller reaches ``call``)."""
    session, form = await staff.check_post(request)
    if session is None:
        return await staff.signed_out()
    try:
        result = await call(form, staff_caller(session.staff))
    except DomainError as exc:
        log.info("web.action_refused", action=what, code=exc.code)
        return await render(
            session,
            "dash_result.html",
            what=what,
            ok=False,
            code=exc.code,
            message=exc.message,
            result=None,
            status=409,
        )
    log.info("web.action", action=what)
    return await render(
        session,
        "dash_result.html",
        what=what,
        ok=True,
        code=None,
        message="",
        result=list(dataclasses.asdict(result).items()),
    )


@routes.post("/dashboard/actions/vet", name="act_vet")
async def act_vet(request: web.Request) -> web.StreamResponse:
    actions = request.app[SERVICES].actions
    return await _act(request, "vet", lambda f, who: actions.vet(f.get("member", ""), who))


@routes.post("/dashboard/actions/refuse", name="act_refuse")
async def act_refuse(request: web.Request) -> web.StreamResponse:
    actions = request.app[SERVICES].actions
    return await _act(
        request,
        "refuse",
        lambda f, who: actions.refuse(f.get("request", ""), f.get("reason", ""), by=who),
    )


@routes.post("/dashboard/actions/refer", name="act_refer")
async def act_refer(request: web.Request) -> web.StreamResponse:
    actions = request.app[SERVICES].actions
    return await _act(
        request,
        "refer",
        lambda f, who: actions.refer(f.get("request", ""), f.get("to") or None, by=who),
    )


@routes.post("/dashboard/actions/remove", name="act_remove")
async def act_remove(request: web.Request) -> web.StreamResponse:
    actions = request.app[SERVICES].actions
    return await _act(
        request,
        "remove",
        lambda f, who: actions.remove_member(
            f.get("member", ""),
            f.get("code") or "staff_removal",
            reason=f.get("reason") or None,
            by=who,
        ),
    )


@routes.post("/dashboard/actions/confirm-identity", name="act_confirm_identity")
async def act_confirm_identity(request: web.Request) -> web.StreamResponse:
    actions = request.app[SERVICES].actions
    return await _act(
        request,
        "confirm identity",
        lambda f, who: actions.confirm_identity(f.get("user", ""), actor=who.user),
    )
