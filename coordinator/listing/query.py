"""The machinery of a desk list: what a list is, how a query string becomes a typed
query (problems named, the rest applied), and how one page is read after a cursor."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.domain import InvalidInput
from coordinator.listing.cursors import Cursors
from coordinator.store.clock import aware
from coordinator.store.schema import case_owners, partners
from coordinator.usecases import validate

Params = Mapping[str, Sequence[str]]  # a query string: each name with all its values
Clause = sa.ColumnElement[bool]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_SEARCH = 100
_AGE = re.compile(r"^([0-9]{1,5})([mhdw])$")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Problem:
    """A filter value that was not understood, and left out."""

    field: str
    message: str


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


def enum_parser(values: Sequence[str], what: str) -> Callable[[str], str]:
    known = tuple(values)

    def parse(text: str) -> str:
        if text not in known:
            raise ValueError(f"{what} must be one of {', '.join(known)}")
        return text

    return parse


def checked(check: Callable[[str, str], Any], name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return check(name, text)
        except InvalidInput as bad:
            raise ValueError(f"{name}: {bad.message}") from None

    return parse


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


def contains(column: sa.ColumnElement[Any], token: str) -> Clause:
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
