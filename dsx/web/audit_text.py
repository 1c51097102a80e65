"""Audit entries as sentences for the dashboard's audit page.

One renderer per action the code writes (``RENDERERS``); an action without one (an old
entry, or a new action) still reads as ``key: value`` text. Members, requests,
proposals and engagements become links to their page or to the list searched for them;
partners, organizations and staff are links when they are members, looked up by
whatever id the log holds (handles today, opaque ids later), so nothing here depends on
their shape. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup

from dsx.web.render import plural


@dataclass(frozen=True)
class Entry:
    """What a renderer reads: one audit entry and which ids are known members."""

    actor: str
    action: str
    subject: str
    data: Mapping[str, Any]
    members: frozenset[str] = frozenset()

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


Renderer = Callable[[Entry], Markup]


def named(data: Mapping[str, Any]) -> set[str]:
    """The ids an entry's data may name (any short string, or one in a list), looked up
    so the members among them become links, whatever shape ids take."""
    out: set[str] = set()
    for v in data.values():
        for x in v if isinstance(v, (list, tuple)) else (v,):
            if isinstance(x, str) and 0 < len(x) <= 255:
                out.add(x)
    return out


def ident(value: Any) -> Markup:
    return Markup('<span class="mono id">{}</span>').format(str(value))


def member(value: Any) -> Markup:
    text = str(value)
    href = "/dashboard/members/" + quote(text, safe="@:")
    return Markup('<a class="mono id" href="{}">{}</a>').format(href, text)


def _listed(path: str, value: Any, **extra: str) -> Markup:
    text = str(value)
    href = f"{path}?{urlencode({**extra, 'q': text})}"
    return Markup('<a class="mono id" href="{}">{}</a>').format(href, text)


def request(value: Any) -> Markup:
    return _listed("/dashboard", value, state="all")


def proposal(value: Any) -> Markup:
    return _listed("/dashboard/proposals", value, state="all")


def engagement(value: Any) -> Markup:
    return _listed("/dashboard/engagements", value, state="all")


def _party(key: str) -> Callable[[Entry], Markup]:
    """A partner, organization or staff member named in the data: a link when a member."""
    return lambda e: who(e, e.get(key, "—"))


def who(e: Entry, value: Any) -> Markup:
    """A person: a link when they are a member, else their id as it is."""
    return member(value) if str(value) in e.members else ident(value)


def actor(e: Entry) -> Markup:
    return who(e, e.actor)


def ids(values: Iterable[Any], link: Callable[[Any], Markup]) -> Markup:
    return Markup(", ").join(link(v) for v in values)


def words(value: Any) -> str:
    """A code as words (``hate_agenda`` → ``hate agenda``)."""
    return str(value).replace("_", " ")


def fallback(e: Entry) -> Markup:
    """An action with no sentence of its own: who, what, on what, and key: value text."""
    head = Markup("{} — {} on {}").format(actor(e), words(e.action), who(e, e.subject))
    if not e.data:
        return head + Markup(".")
    pairs = Markup("; ").join(
        Markup("{}: {}").format(words(k), _value(v)) for k, v in sorted(e.data.items())
    )
    return Markup("{} ({}).").format(head, pairs)


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v) or "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return "none" if v is None else str(v)


def _s(template: str, **parts: Any) -> Renderer:
    """A renderer from a template whose placeholders name functions of the entry."""

    def render(e: Entry) -> Markup:
        # The template is a literal of this module, never data; values are escaped.
        values = {k: "—" if (v := f(e)) is None else v for k, f in parts.items()}
        return Markup(template).format(**values)  # noqa: S704

    return render


def _count(key: str, one: str, many: str) -> Callable[[Entry], str]:
    return lambda e: plural(int(e.get(key, 0) or 0), one, many)


A, S = actor, (lambda e: who(e, e.subject))
SM = lambda e: member(e.subject)  # noqa: E731
SR = lambda e: request(e.subject)  # noqa: E731
SP = lambda e: proposal(e.subject)  # noqa: E731
SE = lambda e: engagement(e.subject)  # noqa: E731


def _field(key: str, link: Callable[[Any], Markup] = ident) -> Callable[[Entry], Markup]:
    return lambda e: link(e.get(key, "—"))


def _vouch(kind: str) -> Renderer:
    def render(e: Entry) -> Markup:
        by = e.get("entered_by_partner")
        via = Markup(", entered by partner {}").format(who(e, by)) if by else Markup("")
        return Markup("{} {} {}{}.").format(who(e, e.get("author", e.actor)), kind, SM(e), via)

    return render


def _proposal_created(e: Entry) -> Markup:
    needed = e.get("approvals_needed") or []
    wait = (
        Markup("; waiting for approval from {}").format(ids(needed, lambda v: who(e, v)))
        if needed
        else Markup("; no approval needed")
    )
    return Markup("{} proposed {} for request {} as proposal {} (score {}){}.").format(
        A(e), member(e.get("provider")), request(e.get("request")), SP(e), e.get("score", "—"), wait
    )


def _removed(e: Entry) -> Markup:
    parts = [Markup("{} removed {} (reason: {})").format(A(e), SM(e), words(e.get("code", "—")))]
    lists = (
        ("cancelled", "proposals withdrawn", proposal),
        ("rerouted", "requests re-routed", request),
        ("cancelled_requests", "requests ended", request),
        ("closed_engagements", "engagements closed", engagement),
    )
    for key, label, link in lists:
        if e.get(key):
            parts.append(Markup("{}: {}").format(label, ids(e.get(key), link)))
    orphaned = int(e.get("orphaned", 0) or 0)
    if orphaned:
        parts.append(
            Markup("{} new vouches").format(plural(orphaned, "member needs", "members need"))
        )
    if e.get("reason_sealed"):
        parts.append(Markup("a sealed reason was kept"))
    return Markup("; ").join(parts) + Markup(".")


def _closed(e: Entry) -> Markup:
    how = []
    if e.get("cause"):
        how.append(f"because {words(e.get('cause'))}")
    if "purged" in e.data:
        how.append("data purged" if e.get("purged") else "data kept for now")
    if e.get("archived"):
        how.append("archived with consent")
    tail = Markup(" ({})").format("; ".join(how)) if how else Markup("")
    return Markup("{} closed engagement {} on request {}{}.").format(
        A(e), SE(e), request(e.get("request")), tail
    )


def _reviewed(e: Entry) -> Markup:
    marks = ", ".join(f"{k} {e.get(k, '—')}" for k in ("conduct", "contract", "communication"))
    breach = "; code of conduct violated" if e.get("violation") else ""
    return Markup("{} reviewed engagement {}: {}{}.").format(A(e), SE(e), marks, breach)


def _vet(e: Entry) -> Markup:
    verdict = "eligible" if e.get("eligible") else "not eligible"
    reasons = ", ".join(words(r) for r in e.get("reasons") or ()) or "no reason given"
    return Markup("{} vetted {}: {}, now {} ({}).").format(
        A(e), SM(e), verdict, words(e.get("status", "—")), reasons
    )


def _desk_refused(change: str) -> Renderer:
    return _s(
        "{a} could not {c} {s}: {r}.",
        a=A,
        c=lambda e: change,
        s=S,
        r=lambda e: words(e.get("reason", "refused")),
    )


def _case(e: Entry) -> Markup:
    """A request or an applicant, by the ``kind`` the desk records."""
    return SR(e) if e.get("kind") == "request" else SM(e)


def _sync(e: Entry) -> Markup:
    failures = int(e.get("failures", 0) or 0)
    return Markup("The sync of bot account {} failed {} in a row.").format(
        ident(e.subject), plural(failures, "time", "times")
    )


def _recovered(e: Entry) -> Markup:
    missed = int(e.get("unreported", 0) or 0)
    tail = f" after {plural(missed, 'unreported failure', 'unreported failures')}" if missed else ""
    return Markup("The sync of bot account {} works again{}.").format(ident(e.subject), tail)


RENDERERS: dict[str, Renderer] = {
    "refused": _s(
        "{a} was refused {s}: {r}.",
        a=A,
        s=lambda e: words(e.subject),
        r=lambda e: words(e.get("reason", "—")),
    ),
    "partner.registered": _s(
        "{a} registered partner {s}{g} with {n}.",
        a=A,
        s=S,
        g=lambda e: " (global)" if e.get("is_global") else "",
        n=_count("rooms", "room", "rooms"),
    ),
    "partner.updated": _s(
        "{a} updated partner {s}: {r}, {m}.",
        a=A,
        s=S,
        r=_count("rooms", "room", "rooms"),
        m=_count("members", "member", "members"),
    ),
    "provider.added": _s(
        "{a} added provider {s} (capacity {c}, tier {t}).",
        a=A,
        s=SM,
        c=lambda e: e.get("capacity", "—"),
        t=lambda e: words(e.get("tier", "—")),
    ),
    "organization.added": _s(
        "{a} added organization {s} for partner {p}{c}.",
        a=A,
        s=SM,
        p=_party("partner"),
        c=lambda e: ", archive consent given" if e.get("consent") else "",
    ),
    "trust.vouch": _vouch("vouched for"),
    "trust.reference": _vouch("gave a reference for"),
    "trust.unvouch": _s(
        "{a} withdrew the vouch of {w} for {s}.", a=A, w=_field("author", member), s=SM
    ),
    "trust.vet": _vet,
    "member.promoted": _s("{s} left probation after a satisfactory review.", s=SM),
    "member.removed": _removed,
    "request.filed": _s(
        "{a} filed request {s} for partner {p} (urgency {u}).",
        a=A,
        s=SR,
        p=_party("partner"),
        u=lambda e: e.get("urgency", "—"),
    ),
    "request.referral_suggested": _s("Request {s} could be referred to {t}.", s=SR, t=_party("to")),
    "request.referred": _s("{a} referred request {s} to {t}.", a=A, s=SR, t=_party("to")),
    "request.refused": _s(
        "{a} refused request {s} (reason: {c}).", a=A, s=SR, c=lambda e: words(e.get("code", "—"))
    ),
    "request.escalated": _s("Request {s} was escalated to staff: past its window.", s=SR),
    "request.unmatched": _s("No provider is left to propose for request {s}.", s=SR),
    "request.cancelled": _s(
        "Request {s} was cancelled ({c}){w}.",
        s=SR,
        c=lambda e: words(e.get("code", "—")),
        w=lambda e: (
            Markup("; proposals withdrawn: {}").format(ids(e.get("withdrawn"), proposal))
            if e.get("withdrawn")
            else ""
        ),
    ),
    "proposal.created": _proposal_created,
    "proposal.approved": _s(
        "{a} approved proposal {s} for partner {p}{c}.",
        a=A,
        s=SP,
        p=_party("partner"),
        c=lambda e: "; every approval is in" if e.get("complete") else "",
    ),
    "proposal.approval_withdrawn": _s(
        "{a} withdrew the approval of partner {p} for proposal {s}.",
        a=A,
        p=_party("partner"),
        s=SP,
    ),
    "proposal.declined": _s(
        "{a} declined proposal {s} (reason: {c}{r}).",
        a=A,
        s=SP,
        c=lambda e: words(e.get("code", "—")),
        r=lambda e: "; a sealed note was kept" if e.get("reason_sealed") else "",
    ),
    "routing.batch": _s(
        "Routing the open requests made {p}; {u} unmatched.",
        p=_count("proposals", "proposal", "proposals"),
        u=_count("unmatched", "request", "requests"),
    ),
    "engagement.opened": _s(
        "Engagement {s} opened: provider {m} on request {r}.",
        s=SE,
        m=_field("provider", member),
        r=_field("request", request),
    ),
    "engagement.closed": _closed,
    "engagement.reviewed": _reviewed,
    "room.upgraded": _s(
        "Room {s} ({k}) was upgraded to {n}; {m} moved along.",
        s=lambda e: ident(e.subject),
        k=lambda e: words(e.get("kind", "—")),
        n=_field("new_room"),
        m=_count("messages", "queued message", "queued messages"),
    ),
    "room.upgrade_refused": _s(
        "The upgrade of room {s} ({k}) was not followed: {r}.",
        s=lambda e: ident(e.subject),
        k=lambda e: words(e.get("kind", "—")),
        r=lambda e: words(e.get("reason", "—")),
    ),
    "intake.received": _s(
        "A {f} form arrived as {s} (urgency {u}, {n}){r}.",
        f=lambda e: words(e.get("form", "public")),
        s=lambda e: ident(e.subject),
        u=lambda e: e.get("urgency") or "not given",
        n=_count("fields", "sealed field", "sealed fields"),
        r=lambda e: (
            Markup(", routed to {}").format(who(e, e.get("referral"))) if e.get("referral") else ""
        ),
    ),
    "intake.acknowledged": _s(
        "{a} acknowledged submission {s}.", a=A, s=lambda e: ident(e.subject)
    ),
    "intake.acknowledge_refused": _s(
        "{a} tried to acknowledge {s}: no such submission waiting.",
        a=A,
        s=lambda e: ident(e.subject),
    ),
    "intake.purged": _s(
        "The sealed details of submission {s} were purged.", s=lambda e: ident(e.subject)
    ),
    "intake.redaction_queued": _s(
        "The intake message of {s} was queued for redaction.", s=lambda e: ident(e.subject)
    ),
    "intake.details_refused": _s(
        "The details of submission {s} were not delivered: {c}.",
        s=lambda e: ident(e.subject),
        c=lambda e: words(e.get("code", "—")),
    ),
    "desk.taken": _s("{a} took {s}.", a=A, s=_case),
    "desk.released": _s("{a} released {s}.", a=A, s=_case),
    "desk.handed_over": _s("{a} handed {s} over to {t}.", a=A, s=_case, t=_party("to")),
    "desk.take_refused": _desk_refused("take"),
    "desk.hand_over_refused": _desk_refused("hand over"),
    "desk.release_refused": _desk_refused("release"),
    "api_token.revoked": _s("{a} revoked API token {s}.", a=A, s=lambda e: ident(e.subject)),
    "api_token.revoke_refused": _s(
        "{a} tried to revoke API token {s}: not theirs or unknown.",
        a=A,
        s=lambda e: ident(e.subject),
    ),
    "identity.confirmed": _s(
        "{a} confirmed the identity of {s} (key {k}).", a=A, s=S, k=_field("master_key")
    ),
    "command.refused": _s(
        "{a} was refused the command {s} ({c}).",
        a=A,
        s=lambda e: ident(e.subject),
        c=lambda e: words(e.get("code", "—")),
    ),
    "command.edit_ignored": _s(
        "An edited command in room {s} was ignored (commands are read once).",
        s=lambda e: ident(e.subject),
    ),
    "command.unencrypted": _s(
        "A {k} command arrived unencrypted in room {s}{t}.",
        k=lambda e: words(e.get("kind", "")),
        s=lambda e: ident(e.subject),
        t=lambda e: "; the room was told" if e.get("told") else "",
    ),
    "sync.trouble": _sync,
    "sync.recovered": _recovered,
    "audit.anchored": _s(
        "The audit log's head ({n}) was anchored{p}.",
        n=_count("count", "entry", "entries"),
        p=lambda e: " and posted to the staff room" if e.get("posted") else "",
    ),
    "outbox.requeued": _s("{a} put outbox message {s} back in the queue.", a=A, s=S),
    "demo.network_imported": _s("{a} imported the demo network {s}.", a=A, s=S),
}


def sentence(e: Entry) -> Markup:
    """The entry as a sentence; a renderer that cannot read old data falls back."""
    render = RENDERERS.get(e.action)
    if render is None:
        return fallback(e)
    try:
        return render(e)
    except (TypeError, ValueError, AttributeError):
        return fallback(e)
