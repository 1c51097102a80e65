"""The envelope every bot message shares: an m.notice with plain and HTML bodies and an
explicit ``m.mentions`` (always present, so clients never guess mentions from the text).

The one ``notice()`` builder: replies, rendered notifications and the session's own
notices all go through it, so every message is capped below Matrix's event size limit.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from partner_bots.render.text import cap, clean

HTML_FORMAT = "org.matrix.custom.html"
MAX_BODY = 30_000  # characters per body
MAX_CONTENT_BYTES = 56_000  # Matrix caps a whole event at 64 KiB; leave room for the envelope


def mentions(user_ids: Iterable[str] = (), room: bool = False) -> dict[str, Any]:
    """Explicit even when empty; each id once, in the order given."""
    out: dict[str, Any] = {"user_ids": list(dict.fromkeys(user_ids))}
    if room:
        out["room"] = True
    return out


def notice(
    body: str,
    formatted_body: str | None = None,
    mention: Iterable[str] = (),
    *,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An m.notice content dict. ``formatted_body`` must already be safe HTML; without
    one, the escaped ``body`` (line breaks kept) is used."""
    body = body[:MAX_BODY]
    if formatted_body is None:
        formatted_body = html.escape(body).replace("\n", "<br>")
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": body,
        "format": HTML_FORMAT,
        "formatted_body": formatted_body,
        "m.mentions": mentions(mention),
    }
    content.update(extra or {})
    while content_bytes(content) > MAX_CONTENT_BYTES and len(content["body"]) > 100:
        # Too big to send: fall back to a shorter plain text, escaped for the HTML body.
        content["body"] = cap(content["body"], len(content["body"]) // 2)
        content["formatted_body"] = html.escape(content["body"]).replace("\n", "<br>")
    return content


def content_bytes(content: dict[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode())


def pill(user_id: str, name: str | None = None) -> str:
    """An HTML user pill; both the id and the name are escaped."""
    target = html.escape(quote(user_id[:255], safe="@:._=-/+"), quote=True)
    label = html.escape(clean(name or user_id), quote=True)
    return f'<a href="https://matrix.to/#/{target}"><bdi>{label}</bdi></a>'
