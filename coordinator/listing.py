"""Find and sort: the staff desk's lists (requests, proposals, engagements, vetting,
members, audit) as typed query objects with filters, a search over id columns and keyset
paging (docs/staff.md, "Find and sort").

A list is read in the order of its sort key followed by the row's id, and a page ends
with a cursor holding the last row's key: the next page starts strictly after it. So
page 50 costs what page 1 costs (no OFFSET; the migration ``0007_desk_lists`` indexes
the sort keys), and a row added between two page loads repeats or hides none of the
others. A cursor is signed: a forged or edited one is ``BadCursor``, whatever was changed.

Filters arrive as text (a URL's query string, the API's parameters). A value that does
not parse becomes a ``Problem`` with a one-line message and is left out; the other
filters still apply. Nothing here reads ``sealed``: ids, states, times and counts only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

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
from coordinator.routing.models import Urgency
from coordinator.store.clock import aware
from coordinator.store.schema import (
    audit_log,
    case_owners,
    engagements,
    members,
    partners,
    proposals,
    requests,
    vouches,
)
from coordinator.usecases import validate

Params = Mapping[str, Sequence[str]]  # a query string: each name with all its values
Clause = sa.ColumnElement[bool]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_SEARCH = 100
MAX_CURSOR = 600
OPEN_REQUESTS = (RequestState.OPEN, RequestState.PROPOSED, RequestState.UNMATCHED)
_AGE = re.compile(r"^([0-9]{1,5})([mhdw])$")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ACTION = re.compile(r"^[a-z][a-z0-9_.]{0,79}$")


class BadCursor(ValueError):
    """A cursor this coordinator did not hand out for this list and sort (or edited)."""

    message = "This page link is not valid (edited, or from another list); start from page 1."


@dataclass(frozen=True)
class Problem:
    """A filter value that was not understood, and left out."""

    field: str
    message: str


# -- cursors -------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cursors:
    """Seals and opens keyset cursors: ``base64(json).base64(hmac)``."""

    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"dsx-list-cursor\x00" + secret).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def seal(self, listing: str, sort: str, key: Sequence[Any]) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
        body = json.dumps([listing, sort, values], separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def open(self, token: str, listing: str, sort: str, kinds: Sequence[str]) -> tuple[Any, ...]:
        try:
            if len(token) > MAX_CURSOR:
                raise ValueError
            head, _, tail = token.partition(".")
            body, mac = _unb64(head), _unb64(tail)
            if not hmac.compare_digest(self._mac(body), mac):
                raise ValueError
            name, order, values = json.loads(body)
            if name != listing or order != sort or len(values) != len(kinds):
                raise ValueError
            return tuple(_typed(kind, v) for kind, v in zip(kinds, values, strict=True))
        except (ValueError, TypeError, UnicodeDecodeError):
            raise BadCursor(BadCursor.message) from None


def _typed(kind: str, value: Any) -> Any:
    if kind == "time" and isinstance(value, str):
        return aware(datetime.fromisoformat(value))
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    raise ValueError(kind)


# -- what a list is ------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One column of a sort: a list is read in the order of its keys."""

    column: sa.ColumnElement[Any]
    descending: bool
    kind: str  # "time" | "int" | "str": how the cursor carries it


@dataclass(frozen=True)
class Filter:
    """One query parameter: ``parse`` turns a value into what ``clause`` needs (or raises
    ``ValueError`` with the message to show)."""

    parse: Callable[[str], Any]
    clause: Callable[[list[Any]], Clause]
    multi: bool = False


@dataclass(frozen=True)
class Listing:
    """What a list is: its table, its sorts (the first is the default), the id columns a
    search looks in, and the filters it takes."""

    name: str
    table: sa.Table
    id: sa.ColumnElement[Any]
    sorts: Mapping[str, tuple[Key, ...]]  # each ends with the id, so keys are unique
    search: tuple[sa.ColumnElement[Any], ...]
    filters: Mapping[str, Filter]
    age: sa.ColumnElement[Any] | None = None
    age_text: bool = False  # the audit log's time is ISO text
    owned: str | None = None  # the owner kind ("request", "member") when ownership exists
    always: tuple[Clause, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)

    @property
    def default_sort(self) -> str:
        return next(iter(self.sorts))


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request: what to show, in which order, from where."""

    listing: str
    filters: tuple[tuple[str, tuple[Any, ...]], ...]
    search: str
    sort: str
    limit: int
    after: tuple[Any, ...] | None
    older_than: timedelta | None
    newer_than: timedelta | None
    owner: str | None  # "mine" | "unowned" | a staff member's Matrix id
    problems: tuple[Problem, ...]
    kept: tuple[tuple[str, str], ...]  # the understood parameters, to carry into links


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and where the next one starts."""

    rows: tuple[T, ...]
    next: str | None  # the cursor of the following page; None on the last one
    query: ListQuery


# -- parsing -------------------------------------------------------------------------


def _enum_parser(values: Sequence[str], what: str) -> Callable[[str], str]:
    known = tuple(values)

    def parse(text: str) -> str:
        if text not in known:
            raise ValueError(f"{what} must be one of {', '.join(known)}")
        return text

    return parse


def _checked(check: Callable[[str, str], Any], name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return check(name, text)
        except InvalidInput as bad:
            raise ValueError(f"{name}: {bad.message}") from None

    return parse


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


def _age(text: str) -> timedelta:
    found = _AGE.match(text.strip())
    if not found:
        raise ValueError("a number and a unit: 30m, 6h, 2d or 1w")
    return timedelta(**{_AGE_UNITS[found.group(2)]: int(found.group(1))})


def _owner(text: str) -> str:
    if text in ("mine", "unowned"):
        return text
    try:
        return validate.mxid("owner", text)
    except InvalidInput:
        raise ValueError("mine, unowned or a staff member's Matrix id") from None


def _contains(column: sa.ColumnElement[Any], token: str) -> Clause:
    """A JSON list column holds ``token`` (a validated tag, language or handle)."""
    quoted = json.dumps(token).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.cast(column, sa.Text).like(f"%{quoted}%", escape="\\")


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def parse(listing: Listing, params: Params, cursors: Cursors, *, strict: bool = False) -> ListQuery:
    """What ``params`` ask of ``listing``; a bad cursor raises ``BadCursor``, any other bad
    value is a ``Problem`` and is left out. ``strict`` (the API): an empty value, or one
    with spaces around it, is a problem too, where a form's unused field is no filter."""
    problems: list[Problem] = []
    kept: list[tuple[str, str]] = []
    chosen: list[tuple[str, tuple[Any, ...]]] = []

    def values(name: str) -> list[str]:
        given = list(params.get(name, ()))
        if strict and name != "q":
            if any(v != v.strip() or not v for v in given):
                problems.append(Problem(name, f"{name}: an empty value or spaces around it."))
            got = [v for v in given if v and v == v.strip()]
        elif strict:
            got = [v for v in given if v]
        else:
            got = [v.strip() for v in given if v and v.strip()]
        if not got and name in listing.defaults:
            return [listing.defaults[name]]
        return got

    for name, spec in listing.filters.items():
        raw = values(name)
        if not spec.multi:
            raw = raw[-1:]
        if "all" in raw:
            if params.get(name):
                kept.append((name, "all"))
            continue
        parsed = []
        for text in raw:
            try:
                parsed.append(spec.parse(text))
            except ValueError as bad:
                problems.append(Problem(name, f"{bad} (got {text[:40]!r}); not applied."))
                continue
            if params.get(name):
                kept.append((name, text))
        if parsed:
            chosen.append((name, tuple(parsed)))

    def single(name: str, conv: Callable[[str], Any]) -> Any:
        raw = values(name)[-1:]
        if not raw:
            return None
        try:
            value = conv(raw[0])
        except ValueError as bad:
            label = name.replace("_", " ")
            problems.append(Problem(name, f"{label}: {bad} (got {raw[0][:40]!r}); not applied."))
            return None
        kept.append((name, raw[0]))
        return value

    older = single("older_than", _age) if listing.age is not None else None
    newer = single("newer_than", _age) if listing.age is not None else None
    owner = single("owner", _owner) if listing.owned else None
    search = ""
    raw_q = values("q")[-1:]
    if raw_q:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw_q[0]):
            problems.append(Problem("q", "search has control characters; not applied."))
        elif len(raw_q[0]) > MAX_SEARCH:
            problems.append(Problem("q", f"search at most {MAX_SEARCH} characters; not applied."))
        else:
            search = raw_q[0]
            kept.append(("q", search))
    sort = listing.default_sort
    raw_sort = values("sort")[-1:]
    if raw_sort:
        if raw_sort[0] in listing.sorts:
            sort = raw_sort[0]
            kept.append(("sort", sort))
        else:
            problems.append(
                Problem(
                    "sort",
                    f"sort must be one of {', '.join(listing.sorts)} "
                    f"(got {raw_sort[0][:40]!r}); sorted by {sort}.",
                )
            )
    limit = DEFAULT_LIMIT
    raw_limit = values("limit")[-1:]
    if raw_limit:
        text = raw_limit[0]
        if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_LIMIT:
            limit = int(text)
            kept.append(("limit", text))
        else:
            problems.append(
                Problem(
                    "limit", f"limit must be a whole number from 1 to {MAX_LIMIT}; {limit} shown."
                )
            )
    after = None
    raw_after = params.get("after", ())
    if raw_after and raw_after[-1]:
        kinds = [k.kind for k in listing.sorts[sort]]
        after = cursors.open(raw_after[-1], listing.name, sort, kinds)
    return ListQuery(
        listing.name,
        tuple(chosen),
        search,
        sort,
        limit,
        after,
        older,
        newer,
        owner,
        tuple(problems),
        tuple(kept),
    )


# -- running -------------------------------------------------------------------------


def _after(keys: tuple[Key, ...], values: tuple[Any, ...]) -> Clause:
    """Strictly after ``values`` in the order of ``keys``: one row comparison when every
    key runs the same way (an index range scan), else the lexicographic expansion."""
    if all(k.descending == keys[0].descending for k in keys):
        left = sa.tuple_(*(k.column for k in keys))
        right = sa.tuple_(
            *(sa.literal(v, k.column.type) for k, v in zip(keys, values, strict=True))
        )
        return left < right if keys[0].descending else left > right
    ors = []
    for i, key in enumerate(keys):
        same = [k.column == v for k, v in zip(keys[:i], values[:i], strict=True)]
        step = key.column < values[i] if key.descending else key.column > values[i]
        ors.append(sa.and_(*same, step))
    first = keys[0]
    bound = first.column <= values[0] if first.descending else first.column >= values[0]
    return sa.and_(bound, sa.or_(*ors))


def _key_of(row: sa.Row[Any], keys: tuple[Key, ...]) -> tuple[Any, ...]:
    out = []
    for i, key in enumerate(keys):
        value = row._mapping[f"_k{i}"]
        out.append(aware(value) if key.kind == "time" else value)
    return tuple(out)


async def rows(
    conn: AsyncConnection,
    listing: Listing,
    query: ListQuery,
    cursors: Cursors,
    *,
    me: str,
    now: datetime,
) -> tuple[list[sa.Row[Any]], str | None]:
    """One page of ``listing``'s rows (its table's columns and ``owner``), and the cursor
    of the next page."""
    keys = listing.sorts[query.sort]
    owner: Any = case_owners.c.owner if listing.owned else sa.null()
    columns: list[Any] = [*listing.table.c, owner.label("owner")]
    columns += [k.column.label(f"_k{i}") for i, k in enumerate(keys)]
    source: Any = listing.table
    if listing.owned:
        on = sa.and_(case_owners.c.subject == listing.id, case_owners.c.kind == listing.owned)
        source = listing.table.outerjoin(case_owners, on)
    select = sa.select(*columns).select_from(source)
    where: list[Clause] = list(listing.always)
    for name, values in query.filters:
        where.append(listing.filters[name].clause(list(values)))
    if query.search and listing.search:
        pattern = _like(query.search)
        where.append(sa.or_(*(sa.func.lower(c).like(pattern, escape="\\") for c in listing.search)))
    if listing.age is not None:
        for delta, older in ((query.older_than, True), (query.newer_than, False)):
            if delta is None:
                continue
            edge: Any = (now - delta).isoformat() if listing.age_text else now - delta
            where.append(listing.age <= edge if older else listing.age > edge)
    if query.owner == "mine":
        where.append(case_owners.c.owner == me)
    elif query.owner == "unowned":
        where.append(case_owners.c.owner.is_(None))
    elif query.owner:
        where.append(case_owners.c.owner == query.owner)
    if query.after is not None:
        where.append(_after(keys, query.after))
    order = [k.column.desc() if k.descending else k.column.asc() for k in keys]
    found = list(
        (await conn.execute(select.where(*where).order_by(*order).limit(query.limit + 1))).all()
    )
    more = len(found) > query.limit
    found = found[: query.limit]
    cursor = cursors.seal(listing.name, query.sort, _key_of(found[-1], keys)) if more else None
    return found, cursor


async def unknown_partner(conn: AsyncConnection, query: ListQuery) -> Problem | None:
    """A partner filter naming no partner: said plainly (the list is then empty)."""
    for name, values in query.filters:
        if name == "partner":
            found = await conn.execute(
                sa.select(partners.c.handle).where(partners.c.handle.in_(values))
            )
            if not list(found.scalars()):
                return Problem("partner", f"No partner called {values[0]!r}.")
    return None


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
    return (_enum_parser([s.value for s in RequestState], "state")(text),)


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
        "partner": Filter(_checked(_handle, "partner"), lambda v: _R.partner == v[0]),
        "skill": Filter(_checked(_one_tag, "skill"), lambda v: _contains(_R.skills, v[0])),
        "language": Filter(
            _checked(_one_language, "language"), lambda v: _contains(_R.languages, v[0])
        ),
        "region": Filter(_checked(_region, "region"), _region_clause),
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
            _enum_parser([s.value for s in ProposalState], "state"),
            lambda v: _P.state.in_(v),
            multi=True,
        ),
        "partner": Filter(
            _checked(_handle, "partner"), lambda v: _contains(_P.approvals_needed, v[0])
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
            _enum_parser([s.value for s in EngagementState], "state"),
            lambda v: _E.state.in_(v),
            multi=True,
        ),
        "partner": Filter(_checked(_handle, "partner"), lambda v: _E.partner == v[0]),
    },
    age=_E.opened_at,
)

_KIND = Filter(
    _enum_parser([k.value for k in MemberKind], "kind"), lambda v: _M.kind.in_(v), multi=True
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
            _enum_parser([s.value for s in MembershipStatus], "status"),
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

LISTINGS = {x.name: x for x in (REQUESTS, PROPOSALS, ENGAGEMENTS, VETTING, MEMBERS, AUDIT)}


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


async def member_page(
    conn: AsyncConnection,
    listing: Listing,
    query: ListQuery,
    cursors: Cursors,
    *,
    me: str,
    now: datetime,
) -> Page[MemberItem]:
    """The vetting queue or the member list, with each member's vouch and reference counts."""
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


async def audit_page(
    conn: AsyncConnection, query: ListQuery, cursors: Cursors, *, me: str, now: datetime
) -> Page[AuditItem]:
    found, cursor = await rows(conn, AUDIT, query, cursors, me=me, now=now)
    items = tuple(AuditItem(r.seq, r.at, r.actor, r.action, r.subject, dict(r.data)) for r in found)
    return Page(items, cursor, query)
