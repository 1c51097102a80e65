"""Messages about an engagement: the introduction in its new room, and the purge notice."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from partner_bots.render.notice import notice, pill
from partner_bots.render.text import clean, markup, plain

ENGAGEMENT_KEY = "org.dsx.engagement"


@dataclass(frozen=True)
class EngagementView:
    id: str
    request: str
    provider_id: str
    provider_name: str
    room_id: str
    partner_name: str  # the routing partner
    skills: tuple[str, ...] = ()


def engagement_block(view: EngagementView) -> dict[str, Any]:
    return {
        "id": view.id,
        "request": view.request,
        "provider": view.provider_id,
        "room": view.room_id,
    }


def introduction_content(view: EngagementView) -> dict[str, Any]:
    """The first message in an engagement room; it mentions the provider."""
    ident = clean(view.id, 64)
    request = clean(view.request, 64)
    skills = ", ".join(clean(skill, 40) for skill in view.skills[:20])
    close = f"!dsx close {ident} archive=no"
    review = f"!dsx review {ident} conduct=5 contract=5 communication=5"
    plain_lines = [
        f"Welcome {plain(view.provider_name)} ({clean(view.provider_id, 255)}).",
        f"This room is engagement {ident} for request {request}, with {plain(view.partner_name)}.",
    ]
    html_parts = [
        f"<p>Welcome {pill(view.provider_id, view.provider_name)}.</p>",
        f"<p>This room is engagement <code>{html.escape(ident)}</code> for request "
        f"<code>{html.escape(request)}</code>, with {markup(view.partner_name)}.</p>",
    ]
    if skills:
        plain_lines.append(f"Help asked for: {skills}.")
        html_parts.append(f"<p>Help asked for: {html.escape(skills)}.</p>")
    plain_lines.append(f"When the work is done: “{close}”, then “{review}”.")
    html_parts.append(
        f"<p>When the work is done: <code>{html.escape(close)}</code>, then "
        f"<code>{html.escape(review)}</code>.</p>"
    )
    return notice(
        "\n".join(plain_lines),
        "".join(html_parts),
        mention=[view.provider_id],
        extra={ENGAGEMENT_KEY: engagement_block(view)},
    )


def purge_content(engagement_id: str, request_id: str, *, archived: bool) -> dict[str, Any]:
    """Announces that the organization's data is gone, naming nothing but ids."""
    ident, request = clean(engagement_id, 64), clean(request_id, 64)
    archive = (
        "An offline archive is kept, with the recorded permission."
        if archived
        else "No archive is kept."
    )
    text = (
        f"Engagement {ident} is closed; the organization's data for request {request} "
        f"was deleted. {archive}"
    )
    return notice(text, f"<p>{html.escape(text)}</p>")
