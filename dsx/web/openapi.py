"""The OpenAPI 3 document of the staff JSON API, built from small schema helpers."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _s(kind: str, **extra: Any) -> Schema:
    return {"type": kind, **extra}


STR, INT, BOOL = _s("string"), _s("integer"), _s("boolean")
TIME = _s("string", format="date-time")
NULL_STR = _s("string", nullable=True)
NULL_TIME = _s("string", format="date-time", nullable=True)
NULL_INT = _s("integer", nullable=True)
STRS = _s("array", items=STR)


def obj(**props: Schema) -> Schema:
    return {
        "type": "object",
        "required": sorted(props),
        "properties": props,
        "additionalProperties": False,
    }


def ref(name: str, nullable: bool = False) -> Schema:
    if nullable:
        return {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "nullable": True}
    return {"$ref": f"#/components/schemas/{name}"}


def array(item: Schema) -> Schema:
    return {"type": "array", "items": item}


COUNTS = array(obj(label=STR, count=INT))

SCHEMAS: dict[str, Schema] = {
    "Error": obj(error=obj(code=STR, message=STR)),
    "OpenRequest": obj(
        id=STR,
        partner=NULL_STR,
        region=NULL_STR,
        outside_us=BOOL,
        urgency=_s("string", enum=["low", "normal", "high", "critical"]),
        state=STR,
        filed_at=TIME,
        age_minutes=INT,
        due_at=NULL_TIME,
        minutes_left=NULL_INT,
        acknowledged=BOOL,
        escalated=BOOL,
        overdue=BOOL,
    ),
    "Proposal": obj(
        id=STR,
        request=STR,
        provider=STR,
        created_at=TIME,
        path=STRS,
        approvals_needed=STRS,
        approvals=STRS,
        waiting_for=STRS,
    ),
    "Engagement": obj(
        id=STR,
        request=STR,
        provider=STR,
        partner=STR,
        state=STR,
        opened_at=TIME,
        closed_at=NULL_TIME,
        archive=BOOL,
    ),
    "Explanation": obj(
        member=STR,
        eligible=BOOL,
        probation=BOOL,
        reasons=STRS,
        codes=STRS,
        shortest_path=STRS,
        disjoint_paths=array(STRS),
        cut=STRS,
    ),
    "Applicant": obj(
        id=STR,
        kind=STR,
        status=STR,
        joined_at=TIME,
        vouches=INT,
        references=INT,
        decision=ref("Explanation", nullable=True),
        last_vetted=_s("string", nullable=True, description="time of the last recorded vet"),
    ),
    "Member": obj(
        id=STR,
        kind=STR,
        status=STR,
        joined_at=TIME,
        vouched_by=array(obj(member=STR, kind=STR)),
        vouches_for=array(obj(member=STR, kind=STR)),
        decision=ref("Explanation", nullable=True),
        neighbourhood=obj(
            nodes=STRS, edges=array(obj(author=STR, target=STR, kind=STR, on_path=BOOL))
        ),
    ),
    "AuditEntry": obj(seq=INT, at=STR, actor=STR, action=STR, subject=STR, data=_s("object")),
    "Audit": obj(
        chain=obj(entries=INT, intact=BOOL, broken_at=NULL_INT, reason=NULL_STR),
        entries=array(ref("AuditEntry")),
    ),
    "RetentionItem": obj(what=STR, owner=STR, scope=STR, fields=INT, reason=STR),
    "Stats": obj(
        requests_by_state=COUNTS,
        proposals_by_state=COUNTS,
        engagements_by_state=COUNTS,
        members_by_status=COUNTS,
        weeks=array(obj(week=STR, filed=INT, by_state=_s("object", additionalProperties=INT))),
        retained_counts=COUNTS,
    ),
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": _json(ref("Error"), "Missing, unknown or expired token"),
}


def _get(op_id: str, summary: str, body: Schema, *, params: list[Schema] | None = None,
         extra: dict[str, Schema] | None = None) -> Schema:  # fmt: skip
    op: Schema = {
        "operationId": op_id,
        "summary": summary,
        "responses": {"200": _json(body, summary), **ERRORS, **(extra or {})},
    }
    if params:
        op["parameters"] = params
    return {"get": op}


def document(server_url: str = "/") -> Schema:
    member_param = {
        "name": "member_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    }
    limit_param = {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
    }
    not_found = {"404": _json(ref("Error"), "No such member")}
    bad = {"400": _json(ref("Error"), "Invalid parameter")}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DSX coordinator staff API",
            "version": "1",
            "description": "Read-only views of routing for staff tools. Ids, states, times "
            "and counts only: no organization's personal data. Get a token on the "
            "dashboard's API token page.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/requests": _get(
                "listOpenRequests",
                "Open requests with SLA clocks",
                obj(requests=array(ref("OpenRequest"))),
            ),
            "/api/proposals": _get(
                "listPendingProposals",
                "Proposals awaiting approval, and by whom",
                obj(proposals=array(ref("Proposal"))),
            ),
            "/api/engagements": _get(
                "listEngagements", "Engagements", obj(engagements=array(ref("Engagement")))
            ),
            "/api/vetting": _get(
                "listVettingQueue",
                "Applicants with their decision and vouching paths",
                obj(applicants=array(ref("Applicant"))),
            ),
            "/api/members/{member_id}": _get(
                "getMember",
                "A member, their decision and trust neighbourhood",
                ref("Member"),
                params=[member_param],
                extra=not_found,
            ),
            "/api/audit": _get(
                "getAudit",
                "Latest audit entries and the chain's verification",
                ref("Audit"),
                params=[limit_param],
                extra=bad,
            ),
            "/api/retention": _get(
                "listRetention",
                "Sealed personal data still held, and why",
                obj(items=array(ref("RetentionItem"))),
            ),
            "/api/stats": _get("getStats", "Counts by state and by week", ref("Stats")),
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
