"""The staff JSON API: the dashboard's views as JSON, for tools, with bearer tokens."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from dsx.web import openapi, queries, svg
from dsx.web.client import client_address
from dsx.web.ratelimit import Scope
from dsx.web.security import SETTINGS_KEY
from dsx.web.services import LIMITER, SERVICES
from dsx.web.trust import Explanation
from dsx.web.views_staff import sla_policy

routes = web.RouteTableDef()

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
        result = await handler(request)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(plain(result))

    return wrapped


@routes.get("/api/openapi.json", name="openapi")
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())


@routes.get("/api/requests", name="api_requests")
@api
async def api_requests(request: web.Request) -> Any:
    rows = await queries.open_requests(
        request.app[SERVICES].engine, datetime.now(UTC), sla_policy(request)
    )
    return {
        "requests": [{**plain(r), "overdue": r.overdue, "outside_us": r.outside_us} for r in rows]
    }


@routes.get("/api/proposals", name="api_proposals")
@api
async def api_proposals(request: web.Request) -> Any:
    rows = await queries.pending_proposals(request.app[SERVICES].engine)
    return {"proposals": [{**plain(p), "waiting_for": list(p.waiting_for)} for p in rows]}


@routes.get("/api/engagements", name="api_engagements")
@api
async def api_engagements(request: web.Request) -> Any:
    return {"engagements": await queries.engagement_rows(request.app[SERVICES].engine)}


@routes.get("/api/vetting", name="api_vetting")
@api
async def api_vetting(request: web.Request) -> Any:
    services = request.app[SERVICES]
    queue = await queries.applicants(services.engine)
    last = await queries.last_vet_decisions(services.engine, [a.id for a in queue])
    out = []
    for a in queue:
        decision: Explanation | None = await services.trust.explain(a.id)
        seen = last.get(a.id)
        out.append(
            {**plain(a), "decision": plain(decision), "last_vetted": seen.at if seen else None}
        )
    return {"applicants": out}


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
    raw = request.query.get("limit", "100")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 500:
        return error(400, "invalid_limit", "limit must be a whole number from 1 to 500.")
    services = request.app[SERVICES]
    engine = services.engine
    return {
        "chain": await queries.audit_status(engine, services.audit_key),
        "entries": await queries.audit_rows(engine, int(raw)),
    }


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
