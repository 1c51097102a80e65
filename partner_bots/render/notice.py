"""The envelope every bot message shares: an m.notice with plain and HTML bodies and an
explicit ``m.mentions`` (always present, so clients never guess mentions from the text)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from partner_bots.render.text import clean

HTML_FORMAT = "org.matrix.custom.html"
MAX_BODY = 30_000  # characters per body; Matrix events are capped at 64 KiB in total


def mentions(user_ids: Iterable[str] = ()) -> dict[str, Any]:
    ids = list(dict.fromkeys(user_ids))
    return {"user_ids": ids} if ids else {}


def notice(
    body: str,
    formatted_body: str,
    *,
    mention: Iterable[str] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An m.notice content dict. ``formatted_body`` must already be safe HTML."""
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": body[:MAX_BODY],
        "format": HTML_FORMAT,
        "formatted_body": formatted_body[:MAX_BODY]
        if len(formatted_body) <= MAX_BODY
        else html.escape(body[:MAX_BODY]),
        "m.mentions": mentions(mention),
    }
    content.update(extra or {})
    return content


def pill(user_id: str, name: str | None = None) -> str:
    """An HTML user pill; both the id and the name are escaped."""
    target = html.escape(quote(user_id[:255], safe="@:._=-/+"), quote=True)
    label = html.escape(clean(name or user_id), quote=True)
    return f'<a href="https://matrix.to/#/{target}"><bdi>{label}</bdi></a>'
