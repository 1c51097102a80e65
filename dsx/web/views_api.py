"""The staff JSON API: the dashboard's views as JSON, for tools, with bearer tokens."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from coordinator import case_owners, listing
from dsx.web import lists, openapi, queries, svg
from dsx.web.actions import staff_caller
from dsx.web.client import client_address
from dsx.web.ratelimit import Scope
from dsx.web.security import SETTINGS_KEY
from dsx.web.services import LIMITER, SERVICES
from dsx.web.trust import Explanation
from dsx.web.views_staff import sla_policy

routes = web.RouteTableDef()
API_STAFF = web.RequestKey("dsx_api_staff", str)  # the staff member whose token it is

Handler = Callable[[web.Request], Awaitable[Any]]


def error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def api(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        # Before the token is looked at: guessing tokens spends the guesser's budget.
        address = client_address(request, request.app[SETTINGS_KEY])
        if not await request.app[LIMITER].allow(Scope.API, address):
            window = request.app[LIMITER].limit(Scope.API).window_seconds
            return error(
                429,
                "rate_limited",
                "Too many requests; wait and retry.",
                **{"Retry-After": str(window)},
            )
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        staff = await request.app[SERVICES].auth.api_staff(token.strip())
        if scheme.lower() != "bearer" or staff is None:
            return error(
                401,
                "unauthorized",
                "Send Authorization: Bearer TOKEN.",
                **{"WWW-Authenticate": 'Bearer realm="dsx"'},
            )
        request[API_STAFF] = staff
        result = await handler(request)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(plain(result))

    return wrapped


@routes.get("/api/openapi.json", name="openapi")
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())


Fetch = Callable[..., Awaitable[listing.Page[Any]]]


async def _page(
    request: web.Request, which: listing.Listing, fetch: Fetch
) -> listing.Page[Any] | web.Response:
    """One page of a list as the query string asks: the dashboard's filters, strictly
    (an empty or unknown value is a 400 naming it), with an opaque ``next`` cursor."""
    cursors = lists.cursors(request)
    try:
        wanted = listing.parse(which, lists.params(request), cursors, strict=True)
    except listing.BadCursor as bad:
        return error(400, "invalid_cursor", bad.message)
    if wanted.problems:
        return error(400, "invalid_filter", " ".join(p.message for p in wanted.problems))
    async with request.app[SERVICES].engine.connect() as conn:
        return await fetch(conn, wanted, cursors, me=request[API_STAFF], now=datetime.now(UTC))


@routes.get("/api/requests", name="api_requests")
@api
async def api_requests(request: web.Request) -> Any:
    found = await _page(request, listing.REQUESTS, listing.request_page)
    if isinstance(found, web.Response):
        return found
    now, sla = datetime.now(UTC), sla_policy(request)
    rows = [queries.with_sla(r, now, sla) for r in found.rows]
    return {
        "requests": [{**plain(r), "overdue": r.overdue, "outside_us": r.outside_us} for r in rows],
        "next": found.next,
    }


@routes.get("/api/proposals", name="api_proposals")
@api
async def api_proposals(request: web.Request) -> Any:
    found = await _page(request, listing.PROPOSALS, listing.proposal_page)
    if isinstance(found, web.Response):
        return found
    return {
        "proposals": [{**plain(p), "waiting_for": list(p.waiting_for)} for p in found.rows],
        "next": found.next,
    }


@routes.get("/api/engagements", name="api_engagements")
@api
async def api_engagements(request: web.Request) -> Any:
    found = await _page(request, listing.ENGAGEMENTS, listing.engagement_page)
    if isinstance(found, web.Response):
        return found
    return {"engagements": found.rows, "next": found.next}


@routes.get("/api/vetting", name="api_vetting")
@api
async def api_vetting(request: web.Request) -> Any:
    services = request.app[SERVICES]
    found = await _page(request, listing.VETTING, listing.vetting_page)
    if isinstance(found, web.Response):
        return found
    last = await queries.last_vet_decisions(services.engine, [a.id for a in found.rows])
    out = []
    for a in found.rows:
        decision: Explanation | None = await services.trust.explain(a.id)
        seen = last.get(a.id)
        out.append(
            {**plain(a), "decision": plain(decision), "last_vetted": seen.at if seen else None}
        )
    return {"applicants": out, "next": found.next}


@routes.get("/api/members", name="api_members")
@api
async def api_members(request: web.Request) -> Any:
    found = await _page(request, listing.MEMBERS, listing.members_page)
    if isinstance(found, web.Response):
        return found
    return {"members": found.rows, "next": found.next}


@routes.get("/api/members/{member_id}", name="api_member")
@api
async def api_member(request: web.Request) -> Any:
    services = request.app[SERVICES]
    member_id = request.match_info["member_id"]
    row = await queries.member(services.engine, member_id)
    if row is None:
        return error(404, "unknown_member", "No member with that id.")
    decision = await services.trust.explain(member_id)
    paths = [*decision.disjoint_paths, decision.shortest_path] if decision else []
    on_paths = tuple(dict.fromkeys(m for p in paths for m in p))
    hood = await queries.neighbourhood(services.engine, member_id, must_include=on_paths)
    highlighted = svg.path_edges(paths)
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "joined_at": row.joined_at.isoformat(),
        "vouched_by": [{"member": m, "kind": k} for m, k in row.vouched_by],
        "vouches_for": [{"member": m, "kind": k} for m, k in row.vouches_for],
        "decision": plain(decision),
        "neighbourhood": {
            "nodes": list(hood.nodes),
            "edges": [
                {**plain(e), "on_path": (e.author, e.target) in highlighted} for e in hood.edges
            ],
        },
    }


@routes.get("/api/audit", name="api_audit")
@api
async def api_audit(request: web.Request) -> Any:
    services = request.app[SERVICES]
    found = await _page(request, listing.AUDIT, listing.audit_page)
    if isinstance(found, web.Response):
        return found
    return {
        "chain": await queries.audit_status(services.engine, services.audit_key),
        "entries": found.rows,
        "next": found.next,
    }


OWNER_CHANGES = {c.value: c for c in case_owners.Change}


@routes.post("/api/owner", name="api_owner")
@api
async def api_owner(request: web.Request) -> Any:
    """Take a request or an applicant, hand it over or release it, as the token's staff
    member; the same use case as the dashboard's buttons (``coordinator/case_owners.py``)."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error(400, "invalid_body", "Send a JSON object: subject, change (and to).")
    subject, change, to = body.get("subject"), body.get("change"), body.get("to")
    if (
        not isinstance(subject, str)
        or not 1 <= len(subject) <= 200
        or not isinstance(change, str)
        or change not in OWNER_CHANGES
        or not (to is None or isinstance(to, str))
        or set(body) - {"subject", "change", "to"}
    ):
        return error(
            400,
            "invalid_body",
            "subject is a request id or an applicant's Matrix id; change is take, "
            "hand_over or release; to (for hand_over) a staff member's Matrix id.",
        )
    services = request.app[SERVICES]
    result = await case_owners.change(
        services.engine,
        staff_caller(request[API_STAFF]),
        OWNER_CHANGES[change],
        subject,
        staff=services.auth.staff_members,
        now=datetime.now(UTC),
        audit_key=services.audit_key,
        to=to,
    )
    if result.changed:
        return result
    # An unknown subject is refused like any other (409), with the unknown-id message.
    return error(409, result.code, result.message)


@routes.get("/api/retention", name="api_retention")
@api
async def api_retention(request: web.Request) -> Any:
    return {"items": await queries.retention_queue(request.app[SERVICES].engine)}


@routes.get("/api/stats", name="api_stats")
@api
async def api_stats(request: web.Request) -> Any:
    s = await queries.stats(request.app[SERVICES].engine)
    return {
        **plain(s),
        "weeks": [
            {"week": w.week, "filed": w.filed, "by_state": dict(w.by_state)} for w in s.weeks
        ],
    }
