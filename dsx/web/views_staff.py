"""The staff dashboard: server-rendered pages over the read model, and staff actions.

Actions call the same coordinator use cases as the room commands, with the staff
member's Matrix id as the actor, so the audit log cannot tell them apart. Refuse, remove
and token revoke ask first (``dsx/web/confirm.py``); the incoming queue of
public-form submissions is acknowledged here (``dsx/web/incoming.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from coordinator import case_owners, listing
from coordinator.domain import DomainError
from coordinator.logs import get_logger
from coordinator.usecases.acting import Acting
from dsx.web import audit_text, confirm, lists, queries, staff, svg
from dsx.web.actions import staff_caller
from dsx.web.incoming import acknowledge
from dsx.web.render import page, when
from dsx.web.security import SETTINGS_KEY
from dsx.web.services import SERVICES

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


async def render(
    request: web.Request, session: staff.StaffSession, name: str, **context: Any
) -> web.Response:
    """Every dashboard page: the session, the current path (marked in the menu) and how
    many public-form submissions wait in the incoming queue (shown in the menu)."""
    status = int(context.pop("status", 200))
    waiting = await queries.unacknowledged(request.app[SERVICES].engine)
    return await page(
        name,
        status=status,
        session=session,
        now=datetime.now(UTC),
        here=request.path,
        incoming_waiting=waiting,
        **context,
    )


async def error_page(
    request: web.Request, *, status: int, title: str, message: str
) -> web.Response:
    """An error page; signed-in staff keep the staff menu on it (a missing member, an
    expired link), everyone else gets the public one."""
    try:
        session = await staff.current(request)
        if session is not None:
            return await render(
                request, session, "dash_error.html", title=title, message=message, status=status
            )
    except Exception as exc:  # the store is down: the plain page still says what happened
        log.warning("web.error_page_without_menu", error=type(exc).__name__)
    return await page("error.html", status=status, title=title, message=message)


PageOf = Callable[..., Awaitable[listing.Page[Any]]]


async def _listed(
    request: web.Request, session: staff.StaffSession, which: listing.Listing, page_of: PageOf
) -> tuple[listing.Page[Any], lists.ListView, int]:
    """One page of a desk list as the URL asks for it; a forged page link shows the first
    page with a message (status 400), never an error page."""
    status = 200
    try:
        wanted = lists.query(request, which)
    except listing.BadCursor as bad:
        wanted, status = lists.first_page(which, bad), 400
    async with request.app[SERVICES].engine.connect() as conn:
        found = await page_of(
            conn, wanted, lists.cursors(request), me=session.staff, now=datetime.now(UTC)
        )
        unknown = await listing.unknown_partner(conn, wanted)
    return found, lists.view(request, which, found, (unknown,) if unknown else ()), status


@routes.get("/dashboard", name="dashboard")
@staff_page
async def dashboard(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    found, lv, status = await _listed(request, session, listing.REQUESTS, listing.request_page)
    now, sla = datetime.now(UTC), sla_policy(request)
    return await render(
        request,
        session,
        "dash_requests.html",
        requests=[queries.with_sla(r, now, sla) for r in found.rows],
        heading=(
            "Open requests" if dict(found.query.kept).get("state", "open") == "open" else "Requests"
        ),
        lv=lv,
        staff_members=_others(request, session),
        status=status,
    )


@routes.get("/dashboard/proposals", name="proposals")
@staff_page
async def proposals(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    found, lv, status = await _listed(request, session, listing.PROPOSALS, listing.proposal_page)
    return await render(
        request, session, "dash_proposals.html", proposals=found.rows, lv=lv, status=status
    )


@routes.get("/dashboard/engagements", name="engagements")
@staff_page
async def engagements(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    found, lv, status = await _listed(
        request, session, listing.ENGAGEMENTS, listing.engagement_page
    )
    return await render(
        request, session, "dash_engagements.html", engagements=found.rows, lv=lv, status=status
    )


@routes.get("/dashboard/vetting", name="vetting")
@staff_page
async def vetting(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    engine = request.app[SERVICES].engine
    found, lv, status = await _listed(request, session, listing.VETTING, listing.vetting_page)
    queue = found.rows
    explainer = request.app[SERVICES].trust
    explained = {a.id: await explainer.explain(a.id) for a in queue}
    last = await queries.last_vet_decisions(engine, [a.id for a in queue])
    return await render(
        request,
        session,
        "dash_vetting.html",
        queue=queue,
        explained=explained,
        last=last,
        applications=await queries.unacknowledged(engine, form="provider"),
        lv=lv,
        staff_members=_others(request, session),
        status=status,
    )


@routes.get("/dashboard/members", name="members")
@staff_page
async def members(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    found, lv, status = await _listed(request, session, listing.MEMBERS, listing.members_page)
    return await render(
        request, session, "dash_members.html", members=found.rows, lv=lv, status=status
    )


def _others(request: web.Request, session: staff.StaffSession) -> list[str]:
    """Whom a case can be handed over to: the other configured staff members."""
    return sorted(m for m in request.app[SERVICES].auth.staff_members if m != session.staff)


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
        request,
        session,
        "dash_member.html",
        member=row,
        explanation=explanation,
        radius=radius,
        graph=svg.render(hood, paths),
        paths=named_paths(explanation),
    )


def named_paths(explanation: Any) -> list[tuple[str, tuple[str, ...]]]:
    """The vouching paths, each once: the shortest one is named among the independent
    paths when it is one of them, and listed on its own only when it is not."""
    if explanation is None:
        return []
    shortest = tuple(explanation.shortest_path or ())
    out: list[tuple[str, tuple[str, ...]]] = []
    for i, p in enumerate(dict.fromkeys(tuple(p) for p in explanation.disjoint_paths), 1):
        out.append((f"Independent path {i}" + (" (shortest)" if p == shortest else ""), p))
    if shortest and all(p != shortest for _, p in out):
        out.insert(0, ("Shortest", shortest))
    return out


@routes.get("/dashboard/identities", name="identities")
@staff_page
async def identities(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    pending = request.app[SERVICES].actions.pending_identities()
    return await render(request, session, "dash_identities.html", pending=sorted(pending.items()))


@routes.get("/dashboard/audit", name="audit")
@staff_page
async def audit_log(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    services = request.app[SERVICES]
    found, lv, status = await _listed(request, session, listing.AUDIT, listing.audit_page)
    people = {e.actor for e in found.rows} | {e.subject for e in found.rows}
    for e in found.rows:
        people |= audit_text.named(e.data)
    known = await queries.known_members(services.engine, people)
    sentences = {
        e.seq: audit_text.sentence(audit_text.Entry(e.actor, e.action, e.subject, e.data, known))
        for e in found.rows
    }
    return await render(
        request,
        session,
        "dash_audit.html",
        chain=await queries.audit_status(services.engine, services.audit_key),
        entries=found.rows,
        sentences=sentences,
        lv=lv,
        status=status,
    )


@routes.get("/dashboard/retention", name="retention")
@staff_page
async def retention(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    items = await queries.retention_queue(request.app[SERVICES].engine)
    return await render(request, session, "dash_retention.html", items=items)


@routes.get("/dashboard/stats", name="stats")
@staff_page
async def stats(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    return await render(
        request, session, "dash_stats.html", stats=await queries.stats(request.app[SERVICES].engine)
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
        request,
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
    """Revoke one of the caller's tokens, after a confirmation page; another's is answered
    like one that never was (and refused, audited, at the first step already)."""
    session, form = await staff.check_post(request)
    if session is None:
        return await staff.signed_out()
    token_id = form.get("token_id", "").strip()
    auth = request.app[SERVICES].auth
    mine = {t.token_id: t for t in await auth.api_tokens(session.staff)}
    if token_id in mine and not confirm.confirmed(form):
        label = mine[token_id].label
        return await _confirm_page(
            request,
            session,
            what="revoke",
            title=f"Revoke token {token_id}?",
            effect=(
                f"Token {token_id}{f' ({label})' if label else ''} stops working at once; "
                "every tool using it is refused from then on. This cannot be undone."
            ),
            action="/dashboard/api-token/revoke",
            fields={"token_id": token_id},
            subject=token_id,
            button="Revoke this token",
            back="/dashboard/api-token",
        )
    if token_id and await auth.revoke_api_token(token_id, owner=session.staff, actor=session.staff):
        return await _tokens_page(request, session, notice=f"Token {token_id} revoked.")
    return await _tokens_page(
        request, session, notice="No such token.", notice_ok=False, status=404
    )


# -- incoming queue ------------------------------------------------------------------


@routes.get("/dashboard/incoming", name="incoming")
@staff_page
async def incoming(request: web.Request, session: staff.StaffSession) -> web.StreamResponse:
    return await _incoming_page(request, session)


async def _incoming_page(
    request: web.Request,
    session: staff.StaffSession,
    *,
    notice: str = "",
    notice_ok: bool = True,
    status: int = 200,
) -> web.Response:
    rows = await queries.incoming(request.app[SERVICES].engine, datetime.now(UTC))
    return await render(
        request,
        session,
        "dash_incoming.html",
        rows=rows,
        notice=notice,
        notice_ok=notice_ok,
        status=status,
    )


@routes.post("/dashboard/incoming/acknowledge", name="incoming_acknowledge")
async def incoming_acknowledge(request: web.Request) -> web.StreamResponse:
    """The first staff member to acknowledge a submission is recorded; an unknown or
    already acknowledged one changes nothing and gets the same answer."""
    session, form = await staff.check_post(request)
    if session is None:
        return await staff.signed_out()
    services = request.app[SERVICES]
    ack = await acknowledge(
        services.engine,
        form.get("reference", ""),
        staff=session.staff,
        now=datetime.now(UTC),
        audit_key=services.audit_key,
    )
    log.info("web.intake_acknowledged" if ack.acknowledged else "web.intake_acknowledge_refused")
    if ack.acknowledged:
        return await _incoming_page(request, session, notice=f"{ack.reference} acknowledged.")
    return await _incoming_page(
        request, session, notice="No such submission waiting.", notice_ok=False, status=404
    )


# -- confirmation ----------------------------------------------------------------------


async def _confirm_page(
    request: web.Request,
    session: staff.StaffSession,
    *,
    what: str,
    title: str,
    effect: str,
    action: str,
    fields: dict[str, str],
    button: str,
    back: str,
    subject: str,
    codes: tuple[tuple[str, str], ...] = (),
    code_field: str = "",
    chosen: str = "",
    error: str = "",
) -> web.Response:
    """The page between the first POST and the one that acts: nothing has changed yet."""
    log.info("web.action_confirm", action=what)
    return await render(
        request,
        session,
        "dash_confirm.html",
        title=title,
        effect=effect,
        subject=subject or "\x00",
        action=action,
        fields=sorted(fields.items()),
        button=button,
        back=back,
        codes=codes,
        code_field=code_field,
        chosen=chosen,
        error=error,
        status=422 if error else 200,
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
    return await _run(request, session, form, what, call)


async def _run(
    request: web.Request,
    session: staff.StaffSession,
    form: dict[str, str],
    what: str,
    call: Callable[[dict[str, str], Acting], Awaitable[Any]],
) -> web.StreamResponse:
    try:
        result = await call(form, staff_caller(session.staff))
    except DomainError as exc:
        log.info("web.action_refused", action=what, code=exc.code)
        return await render(
            request,
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
        request,
        session,
        "dash_result.html",
        what=what,
        ok=True,
        code=None,
        message="",
        result=[
            (k, when(v) if isinstance(v, datetime) else v)
            for k, v in dataclasses.asdict(result).items()
        ],
    )


@routes.post("/dashboard/actions/vet", name="act_vet")
async def act_vet(request: web.Request) -> web.StreamResponse:
    actions = request.app[SERVICES].actions
    return await _act(request, "vet", lambda f, who: actions.vet(f.get("member", ""), who))


@routes.post("/dashboard/actions/refuse", name="act_refuse")
async def act_refuse(request: web.Request) -> web.StreamResponse:
    """Refuse a request: a confirmation page with the reason code from the list first."""
    session, form = await staff.check_post(request)
    if session is None:
        return await staff.signed_out()
    request_id = form.get("request", "").strip()
    code = form.get("reason", "")
    if not confirm.confirmed(form) or not confirm.listed(code, confirm.REFUSE_CODES):
        return await _confirm_page(
            request,
            session,
            what="refuse",
            title=f"Refuse request {request_id}?",
            effect=(
                f"Request {request_id} is closed as refused: no provider will be proposed "
                "for it, and only the reason code and the date are kept."
            ),
            action="/dashboard/actions/refuse",
            fields={"request": request_id},
            subject=request_id,
            button="Refuse this request",
            back="/dashboard",
            codes=confirm.REFUSE_CODES,
            code_field="reason",
            chosen=code,
            error=_code_error(form),
        )
    actions = request.app[SERVICES].actions
    return await _run(
        request,
        session,
        form,
        "refuse",
        lambda f, who: actions.refuse(request_id, code, by=who),
    )


def _code_error(form: dict[str, str]) -> str:
    """Confirmed without a code from the list: say so, act on nothing."""
    return "Choose a reason code from the list." if confirm.confirmed(form) else ""


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
    """Remove a member: a confirmation page with the reason code from the list first; the
    free-text reason (stored sealed) is carried to it unchanged."""
    session, form = await staff.check_post(request)
    if session is None:
        return await staff.signed_out()
    member_id = form.get("member", "").strip()
    code = form.get("code", "")
    if not confirm.confirmed(form) or not confirm.listed(code, confirm.REMOVE_CODES):
        return await _confirm_page(
            request,
            session,
            what="remove",
            title=f"Remove {member_id} from the network?",
            effect=(
                f"{member_id} is removed from the network: their proposals are cancelled, "
                "their open engagements re-routed, and members whose support ran only "
                "through them are named; an organization's open cases end and its personal "
                "data is purged. This cannot be undone from the dashboard."
            ),
            action="/dashboard/actions/remove",
            fields={"member": member_id, "reason": form.get("reason", "")},
            subject=member_id,
            button="Remove this member",
            back=f"/dashboard/members/{member_id}",
            codes=confirm.REMOVE_CODES,
            code_field="code",
            chosen=code,
            error=_code_error(form),
        )
    actions = request.app[SERVICES].actions
    return await _run(
        request,
        session,
        form,
        "remove",
        lambda f, who: actions.remove_member(
            member_id, code, reason=f.get("reason") or None, by=who
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


# -- ownership -----------------------------------------------------------------------

OWNER_CHANGES = {
    "take": case_owners.Change.TAKE,
    "hand_over": case_owners.Change.HAND_OVER,
    "release": case_owners.Change.RELEASE,
}


@routes.post("/dashboard/actions/owner", name="act_owner")
async def act_owner(request: web.Request) -> web.StreamResponse:
    """Take a request or an applicant, hand it over or release it
    (``coordinator/case_owners.py``); a refusal changes nothing and is audited."""
    session, form = await staff.check_post(request)
    if session is None:
        return await staff.signed_out()
    change = OWNER_CHANGES.get(form.get("change", ""), case_owners.Change.TAKE)
    services = request.app[SERVICES]
    result = await case_owners.change(
        services.engine,
        staff_caller(session.staff),
        change,
        form.get("subject", ""),
        staff=services.auth.staff_members,
        now=datetime.now(UTC),
        audit_key=services.audit_key,
        to=form.get("to") or None,
    )
    log.info("web.owner" if result.changed else "web.owner_refused", change=change.value)
    return await render(
        request,
        session,
        "dash_result.html",
        what=change.value.replace("_", " "),
        ok=result.changed,
        code=result.code,
        message=result.message,
        result=[("subject", result.subject), ("owner", result.owner or "nobody")],
        back="/dashboard/vetting" if result.kind == case_owners.Subject.MEMBER else "/dashboard",
        status=200 if result.changed else 409,
    )
