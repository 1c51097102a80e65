"""The OpenAPI 3 document of the staff JSON API, built from small schema helpers."""

from __future__ import annotations

from typing import Any

from coordinator.domain import (
    EngagementState,
    MemberKind,
    MembershipStatus,
    ProposalState,
    RequestState,
)

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
        owner=NULL_STR,
    ),
    "Proposal": obj(
        id=STR,
        request=STR,
        provider=STR,
        state=STR,
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
        owner=NULL_STR,
        decision=ref("Explanation", nullable=True),
        last_vetted=_s("string", nullable=True, description="time of the last recorded vet"),
    ),
    "MemberRow": obj(
        id=STR, kind=STR, status=STR, joined_at=TIME, vouches=INT, references=INT, owner=NULL_STR
    ),
    "Ownership": obj(subject=STR, kind=STR, owner=NULL_STR, changed=BOOL, code=STR, message=STR),
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
        next=NULL_STR,
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
    "429": _json(ref("Error"), "Too many requests from this client; see Retry-After"),
}
BAD = {"400": _json(ref("Error"), "A filter value not understood, or a forged page cursor")}

# The list filters (coordinator/listing/): the same names and values as the dashboard's.
_HANDLE = r"^([a-z0-9][a-z0-9._-]{1,62}|@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:[0-9]+)?)$"
_MXID = r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:[0-9]+)?$"
_AGE = {"type": "string", "pattern": "^[0-9]{1,5}[mhdw]$", "description": "30m, 6h, 2d, 1w"}
FILTERS: dict[str, Schema] = {
    "q": {
        "type": "string",
        "maxLength": 100,
        "pattern": "^[^\\x00-\\x1f\\x7f]*$",
        "description": "search over the list's id and handle columns (substring)",
    },
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "after": {
        "type": "string",
        "maxLength": 600,
        "description": "the `next` cursor of the previous page (opaque; a forged one is a 400)",
    },
    "older_than": _AGE,
    "newer_than": _AGE,
    "owner": {
        "type": "string",
        "pattern": "^(mine|unowned|" + _MXID[1:-1] + ")$",
        "description": "mine, unowned, or a staff member's Matrix id",
    },
    "partner": {"type": "string", "pattern": _HANDLE},
    "skill": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"},
    "language": {"type": "string", "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$"},
    "region": {"type": "string", "pattern": "^[A-Z]{2}(-[A-Z0-9]{1,3})?$"},
    "urgency": array(_s("string", enum=["low", "normal", "high", "critical"])),
    "action": {"type": "string", "pattern": "^[a-z][a-z0-9_.]{0,79}$"},
}


def _list_params(names: tuple[str, ...], sorts: list[str], **enums: list[str]) -> list[Schema]:
    out = []
    for name in (*names, "q", "sort", "limit", "after"):
        if name in enums:
            schema = array(_s("string", enum=enums[name]))
        elif name == "sort":
            schema = _s("string", enum=sorts, default=sorts[0])
        else:
            schema = FILTERS[name]
        param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
        if schema.get("type") == "array":
            param.update(style="form", explode=True)
        out.append(param)
    return out


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
    request_states = ["open", "all", *(st.value for st in RequestState)]
    member_kinds = [k.value for k in MemberKind]
    not_found = {"404": _json(ref("Error"), "No such member")}
    owner_body = obj(
        subject=_s("string", minLength=1, maxLength=200),
        change=_s("string", enum=["take", "hand_over", "release"]),
    )
    owner_body["properties"]["to"] = _s("string", maxLength=255)
    owner_op: Schema = {
        "operationId": "changeOwner",
        "summary": "Take a request or an applicant, hand it over or release it",
        "requestBody": {"required": True, "content": {"application/json": {"schema": owner_body}}},
        "responses": {
            "200": _json(ref("Ownership"), "Changed"),
            **ERRORS,
            "400": _json(ref("Error"), "Not a valid change"),
            "409": _json(
                ref("Error"),
                "Refused: no such request or applicant, owned by another, or not yours",
            ),
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DSX coordinator staff API",
            "version": "1",
            "description": "Views of routing for staff tools, and case ownership. Ids, "
            "states, times and counts only: no organization's personal data. Get a token "
            "on the dashboard's API token page.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/requests": _get(
                "listRequests",
                "Requests with SLA clocks (open ones unless state says otherwise)",
                obj(requests=array(ref("OpenRequest")), next=NULL_STR),
                params=_list_params(
                    (
                        "state",
                        "urgency",
                        "partner",
                        "skill",
                        "language",
                        "region",
                        "older_than",
                        "newer_than",
                        "owner",
                    ),
                    ["urgency", "filed", "-filed"],
                    state=request_states,
                ),
                extra=BAD,
            ),
            "/api/proposals": _get(
                "listProposals",
                "Proposals (pending unless state says otherwise), and whom they wait for",
                obj(proposals=array(ref("Proposal")), next=NULL_STR),
                params=_list_params(
                    ("state", "partner", "older_than", "newer_than"),
                    ["created", "-created"],
                    state=["all", *(st.value for st in ProposalState)],
                ),
                extra=BAD,
            ),
            "/api/engagements": _get(
                "listEngagements",
                "Engagements",
                obj(engagements=array(ref("Engagement")), next=NULL_STR),
                params=_list_params(
                    ("state", "partner", "older_than", "newer_than"),
                    ["-opened", "opened"],
                    state=["all", *(st.value for st in EngagementState)],
                ),
                extra=BAD,
            ),
            "/api/vetting": _get(
                "listVettingQueue",
                "Applicants with their decision and vouching paths",
                obj(applicants=array(ref("Applicant")), next=NULL_STR),
                params=_list_params(
                    ("kind", "older_than", "newer_than", "owner"),
                    ["joined", "-joined", "id"],
                    kind=["all", *member_kinds],
                ),
                extra=BAD,
            ),
            "/api/members": _get(
                "listMembers",
                "Members of the network",
                obj(members=array(ref("MemberRow")), next=NULL_STR),
                params=_list_params(
                    ("status", "kind", "older_than", "newer_than", "owner"),
                    ["id", "joined", "-joined"],
                    status=["all", *(st.value for st in MembershipStatus)],
                    kind=["all", *member_kinds],
                ),
                extra=BAD,
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
                "Audit entries (newest first) and the chain's verification",
                ref("Audit"),
                params=_list_params(("action", "older_than", "newer_than"), ["-seq", "seq"]),
                extra=BAD,
            ),
            "/api/owner": {"post": owner_op},
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
