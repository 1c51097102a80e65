"""The staff desk's six lists (requests, proposals, engagements, vetting, members, audit):
their sorts, searched id columns and filters, and the typed rows of a page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.domain import (
    EngagementState,
    InvalidInput,
    MemberKind,
    MembershipStatus,
    ProposalState,
    RequestState,
)
from coordinator.listing.cursors import Cursors
from coordinator.listing.query import (
    Clause,
    Filter,
    Key,
    Listing,
    ListQuery,
    Page,
    checked,
    contains,
    enum_parser,
    rows,
)
from coordinator.routing.models import Urgency
from coordinator.store.clock import aware
from coordinator.store.schema import audit_log, engagements, members, proposals, requests, vouches
from coordinator.usecases import validate

OPEN_REQUESTS = (RequestState.OPEN, RequestState.PROPOSED, RequestState.UNMATCHED)
_ACTION = re.compile(r"^[a-z][a-z0-9_.]{0,79}$")


def _one_tag(name: str, text: str) -> str:
    (tag,) = validate.tags(name, [text], required=True)
    return tag


_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def _one_language(name: str, text: str) -> str:
    """A language code in its canonical spelling (``ES-mx`` → ``es-MX``); a well-formed
    code no request uses simply matches nothing."""
    try:
        (code,) = validate.languages(name, [text], required=True)
        return code
    except InvalidInput:
        if not _LANGUAGE.match(text):
            raise InvalidInput(name, "a language code such as en, es or es-MX") from None
        base, _, rest = text.partition("-")
        return f"{base.lower()}-{rest.upper()}" if rest else base.lower()


def _region(name: str, text: str) -> str:
    value = validate.region(name, text)
    if value is None:
        raise InvalidInput(name, "must be a country code, optionally with a subdivision (US-CA)")
    return value


def _handle(name: str, text: str) -> str:
    return validate.member_id(name, text.strip())


def _action(text: str) -> str:
    if not _ACTION.match(text):
        raise ValueError("action: letters, digits, dots and underscores, like trust.vet")
    return text


# -- the lists -----------------------------------------------------------------------

_R, _P, _E, _M, _A = requests.c, proposals.c, engagements.c, members.c, audit_log.c


def _urgency(text: str) -> int:
    try:
        return int(Urgency.parse(text))
    except KeyError:
        raise ValueError("urgency must be one of low, normal, high, critical") from None


def _request_state(text: str) -> tuple[str, ...]:
    if text == "open":
        return tuple(s.value for s in OPEN_REQUESTS)
    return (enum_parser([s.value for s in RequestState], "state")(text),)


def _request_states(values: list[Any]) -> Clause:
    return _R.state.in_(sorted({s for group in values for s in group}))


def _region_clause(values: list[Any]) -> Clause:
    region = values[0]
    match = sa.or_(_R.region == region, _R.region.like(f"{region}-%"))
    return sa.or_(match, _R.region.is_(None)) if region == "US" else match


REQUESTS = Listing(
    name="requests",
    table=requests,
    id=_R.id,
    sorts={
        "urgency": (
            Key(_R.urgency, True, "int"),
            Key(_R.filed_at, False, "time"),
            Key(_R.id, False, "str"),
        ),
        "filed": (Key(_R.filed_at, False, "time"), Key(_R.id, False, "str")),
        "-filed": (Key(_R.filed_at, True, "time"), Key(_R.id, True, "str")),
    },
    search=(_R.id, _R.partner, _R.organization, _R.referred_to),
    filters={
        "state": Filter(_request_state, _request_states, multi=True),
        "urgency": Filter(_urgency, lambda v: _R.urgency.in_(v), multi=True),
        "partner": Filter(checked(_handle, "partner"), lambda v: _R.partner == v[0]),
        "skill": Filter(checked(_one_tag, "skill"), lambda v: contains(_R.skills, v[0])),
        "language": Filter(
            checked(_one_language, "language"), lambda v: contains(_R.languages, v[0])
        ),
        "region": Filter(checked(_region, "region"), _region_clause),
    },
    age=_R.filed_at,
    owned="request",
    defaults={"state": "open"},
)

PROPOSALS = Listing(
    name="proposals",
    table=proposals,
    id=_P.id,
    sorts={
        "created": (Key(_P.created_at, False, "time"), Key(_P.id, False, "str")),
        "-created": (Key(_P.created_at, True, "time"), Key(_P.id, True, "str")),
    },
    search=(_P.id, _P.request, _P.provider),
    filters={
        "state": Filter(
            enum_parser([s.value for s in ProposalState], "state"),
            lambda v: _P.state.in_(v),
            multi=True,
        ),
        "partner": Filter(
            checked(_handle, "partner"), lambda v: contains(_P.approvals_needed, v[0])
        ),
    },
    age=_P.created_at,
    defaults={"state": ProposalState.PENDING.value},
)

ENGAGEMENTS = Listing(
    name="engagements",
    table=engagements,
    id=_E.id,
    sorts={
        "-opened": (Key(_E.opened_at, True, "time"), Key(_E.id, True, "str")),
        "opened": (Key(_E.opened_at, False, "time"), Key(_E.id, False, "str")),
    },
    search=(_E.id, _E.request, _E.provider, _E.partner),
    filters={
        "state": Filter(
            enum_parser([s.value for s in EngagementState], "state"),
            lambda v: _E.state.in_(v),
            multi=True,
        ),
        "partner": Filter(checked(_handle, "partner"), lambda v: _E.partner == v[0]),
    },
    age=_E.opened_at,
)

_KIND = Filter(
    enum_parser([k.value for k in MemberKind], "kind"), lambda v: _M.kind.in_(v), multi=True
)
_MEMBER_SORTS: dict[str, tuple[Key, ...]] = {
    "joined": (Key(_M.created_at, False, "time"), Key(_M.id, False, "str")),
    "-joined": (Key(_M.created_at, True, "time"), Key(_M.id, True, "str")),
    "id": (Key(_M.id, False, "str"),),
}

VETTING = Listing(
    name="vetting",
    table=members,
    id=_M.id,
    sorts=_MEMBER_SORTS,
    search=(_M.id,),
    filters={"kind": _KIND},
    age=_M.created_at,
    owned="member",
    always=(_M.status == MembershipStatus.APPLICANT.value,),
)

MEMBERS = Listing(
    name="members",
    table=members,
    id=_M.id,
    sorts={
        "id": _MEMBER_SORTS["id"],
        "joined": _MEMBER_SORTS["joined"],
        "-joined": _MEMBER_SORTS["-joined"],
    },
    search=(_M.id,),
    filters={
        "status": Filter(
            enum_parser([s.value for s in MembershipStatus], "status"),
            lambda v: _M.status.in_(v),
            multi=True,
        ),
        "kind": _KIND,
    },
    age=_M.created_at,
    owned="member",
)

AUDIT = Listing(
    name="audit",
    table=audit_log,
    id=_A.seq,
    sorts={"-seq": (Key(_A.seq, True, "int"),), "seq": (Key(_A.seq, False, "int"),)},
    search=(_A.actor, _A.subject),
    filters={
        "action": Filter(
            _action, lambda v: _A.action.like(v[0].replace("_", "\\_") + "%", escape="\\")
        )
    },
    age=_A.at,
    age_text=True,
)


# -- typed rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestItem:
    id: str
    partner: str | None
    region: str | None
    urgency: str
    state: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    filed_at: datetime
    acknowledged_at: datetime | None
    escalated_at: datetime | None
    owner: str | None


@dataclass(frozen=True)
class ProposalItem:
    id: str
    request: str
    provider: str
    state: str
    created_at: datetime
    path: tuple[str, ...]
    approvals_needed: tuple[str, ...]
    approvals: tuple[str, ...]

    @property
    def waiting_for(self) -> tuple[str, ...]:
        return tuple(p for p in self.approvals_needed if p not in self.approvals)


@dataclass(frozen=True)
class EngagementItem:
    id: str
    request: str
    provider: str
    partner: str
    state: str
    opened_at: datetime
    closed_at: datetime | None
    archive: bool


@dataclass(frozen=True)
class MemberItem:
    id: str
    kind: str
    status: str
    joined_at: datetime
    vouches: int
    references: int
    owner: str | None


@dataclass(frozen=True)
class AuditItem:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    data: dict[str, Any]


async def request_page(
    conn: AsyncConnection, query: ListQuery, cursors: Cursors, *, me: str, now: datetime
) -> Page[RequestItem]:
    found, cursor = await rows(conn, REQUESTS, query, cursors, me=me, now=now)
    items = tuple(
        RequestItem(
            r.id,
            r.partner,
            r.region,
            Urgency(r.urgency).name.lower(),
            r.state,
            tuple(sorted(r.skills)),
            tuple(sorted(r.languages)),
            aware(r.filed_at),
            aware(r.acknowledged_at),
            aware(r.escalated_at),
            r.owner,
        )
        for r in found
    )
    return Page(items, cursor, query)


async def proposal_page(
    conn: AsyncConnection, query: ListQuery, cursors: Cursors, *, me: str, now: datetime
) -> Page[ProposalItem]:
    found, cursor = await rows(conn, PROPOSALS, query, cursors, me=me, now=now)
    items = tuple(
        ProposalItem(
            r.id,
            r.request,
            r.provider,
            r.state,
            aware(r.created_at),
            tuple(r.path),
            tuple(r.approvals_needed),
            tuple(r.approvals),
        )
        for r in found
    )
    return Page(items, cursor, query)


async def engagement_page(
    conn: AsyncConnection, query: ListQuery, cursors: Cursors, *, me: str, now: datetime
) -> Page[EngagementItem]:
    found, cursor = await rows(conn, ENGAGEMENTS, query, cursors, me=me, now=now)
    items = tuple(
        EngagementItem(
            r.id,
            r.request,
            r.provider,
            r.partner,
            r.state,
            aware(r.opened_at),
            aware(r.closed_at),
            bool(r.archive),
        )
        for r in found
    )
    return Page(items, cursor, query)


async def _member_page(
    conn: AsyncConnection,
    listing: Listing,
    query: ListQuery,
    cursors: Cursors,
    *,
    me: str,
    now: datetime,
) -> Page[MemberItem]:
    """Members with their vouch and reference counts."""
    found, cursor = await rows(conn, listing, query, cursors, me=me, now=now)
    counts = (
        await conn.execute(
            sa.select(vouches.c.target, vouches.c.kind, sa.func.count())
            .where(vouches.c.target.in_([r.id for r in found]))
            .group_by(vouches.c.target, vouches.c.kind)
        )
    ).all()
    tally = {(t, k): int(n) for t, k, n in counts}
    items = tuple(
        MemberItem(
            r.id,
            r.kind,
            r.status,
            aware(r.created_at),
            tally.get((r.id, "vouch"), 0),
            tally.get((r.id, "reference"), 0),
            r.owner,
        )
        for r in found
    )
    return Page(items, cursor, query)


async def vetting_page(
    conn: AsyncConnection, query: ListQuery, cursors: Cursors, *, me: str, now: datetime
) -> Page[MemberItem]:
    return await _member_page(conn, VETTING, query, cursors, me=me, now=now)


async def members_page(
    conn: AsyncConnection, query: ListQuery, cursors: Cursors, *, me: str, now: datetime
) -> Page[MemberItem]:
    return await _member_page(conn, MEMBERS, query, cursors, me=me, now=now)


async def audit_page(
    conn: AsyncConnection, query: ListQuery, cursors: Cursors, *, me: str, now: datetime
) -> Page[AuditItem]:
    found, cursor = await rows(conn, AUDIT, query, cursors, me=me, now=now)
    items = tuple(AuditItem(r.seq, r.at, r.actor, r.action, r.subject, dict(r.data)) for r in found)
    return Page(items, cursor, query)
