"""The dashboard's and the API's side of find and sort (``coordinator/listing/``): the
query string in, the filter form and the page links out.

The URL carries the whole filter, so a view can be bookmarked; the form is a plain GET
form (no JavaScript). A value that was not understood is named above the list and left
out; the rest of the filter still applies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from coordinator import listing
from coordinator.domain import (
    EngagementState,
    MemberKind,
    MembershipStatus,
    ProposalState,
    RequestState,
)
from dsx.web.security import SETTINGS_KEY

Options = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Control:
    """One field of a list's filter form: a select (``options``) or a text box."""

    name: str
    label: str
    value: str
    options: Options | None = None
    hint: str = ""


@dataclass(frozen=True)
class ListView:
    """What a list page shows around its rows."""

    controls: tuple[Control, ...]
    problems: tuple[listing.Problem, ...]
    next_url: str | None
    first_url: str | None  # on a later page: back to the first
    shown: int
    reset_url: str


def _states(values: list[str], first: Options = ()) -> Options:
    return (*first, ("all", "any state"), *((v, v) for v in values))


SORTS: dict[str, Options] = {
    "requests": (
        ("urgency", "most urgent first"),
        ("filed", "oldest first"),
        ("-filed", "newest first"),
    ),
    "proposals": (("created", "oldest first"), ("-created", "newest first")),
    "engagements": (("-opened", "newest first"), ("opened", "oldest first")),
    "vetting": (("joined", "waiting longest first"), ("-joined", "newest first"), ("id", "by id")),
    "members": (("id", "by id"), ("joined", "oldest first"), ("-joined", "newest first")),
    "audit": (("-seq", "newest first"), ("seq", "oldest first")),
}
OWNER: Options = (("", "anyone or nobody"), ("mine", "mine"), ("unowned", "nobody"))
KINDS: Options = (("", "any kind"), *((k.value, k.value) for k in MemberKind))
URGENCY: Options = (("", "any urgency"), *((u, u) for u in ("critical", "high", "normal", "low")))
AGE_HINT = "30m, 6h, 2d, 1w"

# Each list's form, in order: (name, label, options or None for a text box, hint).
FORMS: dict[str, tuple[tuple[str, str, Options | None, str], ...]] = {
    "requests": (
        ("q", "Search ids and handles", None, ""),
        (
            "state",
            "State",
            _states([s.value for s in RequestState], (("open", "open, proposed or unmatched"),)),
            "",
        ),
        ("urgency", "Urgency", URGENCY, ""),
        ("partner", "Partner", None, "handle"),
        ("skill", "Skill", None, "forensics"),
        ("language", "Language", None, "es"),
        ("region", "Region", None, "US-CA"),
        ("older_than", "Older than", None, AGE_HINT),
        ("owner", "Owner", OWNER, ""),
    ),
    "proposals": (
        ("q", "Search ids", None, ""),
        ("state", "State", _states([s.value for s in ProposalState]), ""),
        ("partner", "Waiting for partner", None, "handle"),
        ("older_than", "Older than", None, AGE_HINT),
    ),
    "engagements": (
        ("q", "Search ids and handles", None, ""),
        ("state", "State", (("", "any state"), *((s.value, s.value) for s in EngagementState)), ""),
        ("partner", "Partner", None, "handle"),
        ("older_than", "Older than", None, AGE_HINT),
    ),
    "vetting": (
        ("q", "Search ids", None, ""),
        ("kind", "Kind", KINDS, ""),
        ("older_than", "Waiting longer than", None, AGE_HINT),
        ("owner", "Owner", OWNER, ""),
    ),
    "members": (
        ("q", "Search ids", None, ""),
        (
            "status",
            "Status",
            (("", "any status"), *((s.value, s.value) for s in MembershipStatus)),
            "",
        ),
        ("kind", "Kind", KINDS, ""),
        ("owner", "Owner", OWNER, ""),
    ),
    "audit": (
        ("q", "Search actors and subjects", None, ""),
        ("action", "Action starts with", None, "trust.vet"),
        ("older_than", "Older than", None, AGE_HINT),
        ("newer_than", "Newer than", None, AGE_HINT),
    ),
}


def params(request: web.Request) -> dict[str, list[str]]:
    return {k: request.query.getall(k) for k in set(request.query.keys())}


def cursors(request: web.Request) -> listing.Cursors:
    """Cursors signed with this deployment's web secret (as CSRF tokens are)."""
    return listing.Cursors(request.app[SETTINGS_KEY].secret)


def query(request: web.Request, which: listing.Listing) -> listing.ListQuery:
    """The list query the URL asks for; ``listing.BadCursor`` for a forged page link."""
    return listing.parse(which, params(request), cursors(request))


def first_page(which: listing.Listing, bad: listing.BadCursor) -> listing.ListQuery:
    """After a bad page link: the list's first page, saying why."""
    fresh = listing.parse(which, {}, listing.Cursors(b""))
    problem = listing.Problem("after", bad.message)
    return replace(fresh, problems=(problem,))


def view(
    request: web.Request,
    which: listing.Listing,
    found: listing.Page[Any],
    extra: tuple[listing.Problem, ...] = (),
) -> ListView:
    raw = params(request)
    controls = [
        Control(name, label, (raw.get(name) or [which.defaults.get(name, "")])[-1], options, hint)
        for name, label, options, hint in FORMS[which.name]
    ]
    controls.append(
        Control(
            "sort", "Sort", (raw.get("sort") or [""])[-1] or which.default_sort, SORTS[which.name]
        )
    )
    kept = list(found.query.kept)
    base = request.path
    next_url = f"{base}?{urlencode([*kept, ('after', found.next)])}" if found.next else None
    first_url = (f"{base}?{urlencode(kept)}" if kept else base) if found.query.after else None
    return ListView(
        tuple(controls),
        (*found.query.problems, *extra),
        next_url,
        first_url,
        len(found.rows),
        base,
    )
