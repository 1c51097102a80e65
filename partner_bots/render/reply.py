"""A command's Reply as Matrix content, with the machine-readable ``org.dsx.reply`` block."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from partner_bots.render.notice import notice
from partner_bots.render.relations import reply_to_command
from partner_bots.render.text import clean

if TYPE_CHECKING:
    from partner_bots.commands.context import Reply

REPLY_KEY = "org.dsx.reply"
SUMMARY_LIMIT = 1_000
LINE_LIMIT = 600
MAX_LINES = 60
BUDGET = 8_000  # characters of detail lines; keeps the event far below 64 KiB


def _lines(details: Iterable[str]) -> list[str]:
    """Cleaned detail lines within a line count and a character budget."""
    lines: list[str] = []
    used = 0
    for line in details:
        text = clean(line, LINE_LIMIT)
        if not text:
            continue
        if len(lines) == MAX_LINES or used + len(text) > BUDGET:
            lines.append("…")
            break
        lines.append(text)
        used += len(text)
    return lines


def reply_block(reply: Reply) -> dict[str, Any]:
    block: dict[str, Any] = {"command": reply.command, "ok": reply.ok}
    if reply.error is not None:
        block["error"] = {
            "code": clean(reply.error.code, 64),
            "message": clean(reply.error.message, SUMMARY_LIMIT),
        }
    return block


def reply_content(reply: Reply, *, mention: Iterable[str] = ()) -> dict[str, Any]:
    """The m.notice for a reply; ``mention`` adds user ids (usually the sender)."""
    summary = clean(reply.summary, SUMMARY_LIMIT, multiline=True)
    lines = _lines(reply.details)
    error = reply.error
    example = clean(error.example, LINE_LIMIT) if error and error.example else None
    code = clean(error.code, 64) if error else None

    plain = [f"⚠️ {summary} ({code})" if error else summary, *lines]
    if example:
        plain.append(f"Example: {example}")

    safe_summary = html.escape(summary).replace("\n", "<br>")
    parts = [
        f"<p>⚠️ {safe_summary} <code>{html.escape(code)}</code></p>"
        if code is not None
        else f"<p><strong>{safe_summary}</strong></p>"
    ]
    if lines:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        parts.append(f"<ul>{items}</ul>")
    if example:
        parts.append(f"<p>Example: <code>{html.escape(example)}</code></p>")

    return notice(
        "\n".join(plain),
        "".join(parts),
        mention=[*mention, *reply.mentions],
        extra={REPLY_KEY: reply_block(reply)},
    )


def reply_event(
    reply: Reply, *, sender: str, event_id: str, thread_root: str | None = None
) -> dict[str, Any]:
    """The full answer to a command event: mentions its sender and sits where it was asked
    (inside the request's thread when the command was sent there)."""
    return reply_to_command(reply_content(reply, mention=[sender]), event_id, thread_root)
