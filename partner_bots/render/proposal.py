"""Match proposals as room messages: the routing partner's full view, and the vouching
partner's view, which carries no organization details at all (need to know)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from coordinator.domain.states import ProposalState
from coordinator.routing.models import Urgency
from partner_bots.render.notice import notice, pill
from partner_bots.render.relations import APPROVE_KEY, DECLINE_KEY
from partner_bots.render.text import clean, markup, markup_block, plain, plain_block

PROPOSAL_KEY = "org.dsx.proposal"
MAX_PATHS = 3
MAX_REASONS = 8
MAX_TAGS = 20


@dataclass(frozen=True)
class Person:
    """A member on a vouching path: an id for tools, a display name for people."""

    id: str
    name: str


@dataclass(frozen=True)
class ProviderView:
    user_id: str
    name: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    probation: bool


@dataclass(frozen=True)
class RequestView:
    """The case as the routing partner sees it; never passed to the other partner's view."""

    id: str
    org_name: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    region: str | None
    urgency: Urgency
    note: str | None = None


@dataclass(frozen=True)
class ProposalView:
    id: str
    request: RequestView
    provider: ProviderView
    routing_partner: str  # display name of the partner whose room filed the request
    reasons: tuple[str, ...]  # why this provider (from routing)
    paths: tuple[tuple[Person, ...], ...]  # vouching paths from this room's partner, shortest first
    approvals_needed: tuple[str, ...]  # partner handles whose approval is still needed
    status: ProposalState = ProposalState.PENDING


@dataclass(frozen=True)
class _Doc:
    """Plain and HTML lines built side by side so the two bodies always say the same."""

    plain: list[str]
    markup: list[str]

    def add(self, text: str, markup_text: str) -> None:
        self.plain.append(text)
        self.markup.append(markup_text)


def _tags(values: tuple[str, ...]) -> tuple[str, str]:
    shown = [clean(value, 40) for value in values[:MAX_TAGS]]
    if len(values) > MAX_TAGS:
        shown.append("…")
    text = ", ".join(shown) or "—"
    return text, html.escape(text)


def _path(path: tuple[Person, ...]) -> tuple[str, str]:
    return (
        " → ".join(plain(person.name, 80) for person in path),
        " → ".join(markup(person.name, 80) for person in path),
    )


def _provider_lines(doc: _Doc, view: ProposalView) -> None:
    provider = view.provider
    doc.add(
        f"Provider: {plain(provider.name)} ({clean(provider.user_id, 255)})",
        f"<p>Provider: {pill(provider.user_id, provider.name)}</p>",
    )
    skills, skills_html = _tags(provider.skills)
    langs, langs_html = _tags(provider.languages)
    doc.add(f"Skills: {skills}", f"<p>Skills: {skills_html}</p>")
    doc.add(f"Languages: {langs}", f"<p>Languages: {langs_html}</p>")
    if provider.probation:
        note = "In probation: a new member, who can be matched but cannot vouch yet."
        doc.add(f"⚠️ {note}", f"<p>⚠️ <strong>{note}</strong></p>")
    paths = view.paths[:MAX_PATHS]
    if paths:
        doc.add("Vouching path:", "<p>Vouching path:</p>")
        items = []
        for path in paths:
            text, markup_text = _path(path)
            doc.plain.append(f"  {text}")
            items.append(f"<li>{markup_text}</li>")
        doc.markup.append(f"<ul>{''.join(items)}</ul>")
    else:
        doc.add("Vouching path: none from this partner.", "<p>Vouching path: none.</p>")


def _instructions(doc: _Doc, view: ProposalView) -> None:
    if view.status is not ProposalState.PENDING:
        state = view.status.value
        doc.add(f"Status: {state}.", f"<p>Status: <strong>{state}</strong>.</p>")
        return
    proposal = clean(view.id, 64)
    if len(view.approvals_needed) > 1:
        who = ", ".join(clean(handle, 64) for handle in view.approvals_needed)
        doc.add(
            f"Needs approval in each of: {who}.",
            f"<p>Needs approval in each of: {html.escape(who)}.</p>",
        )
    approve = f"!dsx approve {proposal}"
    decline = f"!dsx decline {proposal} reason=…"
    doc.add(
        f"React {APPROVE_KEY} to approve or {DECLINE_KEY} to decline, "
        f"or send “{approve}” / “{decline}”.",
        f"<p>React {APPROVE_KEY} to approve or {DECLINE_KEY} to decline, or send "
        f"<code>{html.escape(approve)}</code> / <code>{html.escape(decline)}</code>.</p>",
    )


def proposal_block(view: ProposalView) -> dict[str, Any]:
    """The machine-readable block: ids only, no names, no organization data."""
    return {
        "id": view.id,
        "request": view.request.id,
        "provider": view.provider.user_id,
        "paths": [[person.id for person in path] for path in view.paths[:MAX_PATHS]],
        "approvals_needed": list(view.approvals_needed),
        "status": view.status.value,
    }


def proposal_content(view: ProposalView) -> dict[str, Any]:
    """The proposal in the routing partner's room, with the case it answers."""
    request = view.request
    doc = _Doc([], [])
    title = f"Proposal {clean(view.id, 64)} for request {clean(request.id, 64)}"
    doc.add(title, f"<h4>{html.escape(title)}</h4>")
    doc.add(
        f"Organization: {plain(request.org_name)}",
        f"<p>Organization: {markup(request.org_name)}</p>",
    )
    wanted, wanted_html = _tags(request.skills)
    urgency = request.urgency.name.lower()
    doc.add(
        f"Needs: {wanted} · urgency {urgency}",
        f"<p>Needs: {wanted_html} · urgency <strong>{urgency}</strong></p>",
    )
    if request.languages or request.region:
        langs, langs_html = _tags(request.languages)
        where = clean(request.region or "anywhere", 16)
        doc.add(
            f"Languages: {langs} · region {where}",
            f"<p>Languages: {langs_html} · region {html.escape(where)}</p>",
        )
    if request.note:
        doc.add(
            f"Note: {plain_block(request.note)}",
            f"<blockquote>{markup_block(request.note)}</blockquote>",
        )
    _provider_lines(doc, view)
    reasons = [clean(reason, 300) for reason in view.reasons[:MAX_REASONS]]
    if reasons:
        doc.add(
            "Why: " + "; ".join(reasons),
            "<p>Why:</p><ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in reasons) + "</ul>",
        )
    _instructions(doc, view)
    return notice(
        "\n".join(doc.plain), "".join(doc.markup), extra={PROPOSAL_KEY: proposal_block(view)}
    )


def vouching_proposal_content(view: ProposalView) -> dict[str, Any]:
    """The same proposal in the room of the partner whose web of trust admitted the provider.

    It names the provider, the path from that partner and the routing partner, and nothing
    from ``view.request`` except its id and urgency.
    """
    doc = _Doc([], [])
    title = f"Proposal {clean(view.id, 64)}: a provider from your network"
    doc.add(title, f"<h4>{html.escape(title)}</h4>")
    urgency = view.request.urgency.name.lower()
    doc.add(
        f"Requested by {plain(view.routing_partner)} for request {clean(view.request.id, 64)} "
        f"(urgency {urgency}). Case details stay with them.",
        f"<p>Requested by {markup(view.routing_partner)} for request "
        f"{html.escape(clean(view.request.id, 64))} (urgency <strong>{urgency}</strong>). "
        "Case details stay with them.</p>",
    )
    _provider_lines(doc, view)
    _instructions(doc, view)
    return notice(
        "\n".join(doc.plain), "".join(doc.markup), extra={PROPOSAL_KEY: proposal_block(view)}
    )
