"""Is a message addressed to the bot, and what follows the address?

A command starts with ``!dsx`` (any case) or a mention of the bot: its user id or display name
at the start of the plain body, or a pill (``<a href="https://matrix.to/#/@bot:server">``) at
the start of the HTML body. Everything else is ordinary conversation and is left alone.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import unquote

PREFIX = "!dsx"
_PILL = re.compile(
    r"""\s{0,20}(?:<p>\s{0,20})?<a\s{1,5}href=(["'])https://matrix\.to/#/"""
    r"""([^"'?]{1,300})(?:\?[^"']{0,300})?\1\s{0,5}>([^<]{0,300})</a>""",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]{0,300}>")
_MX_REPLY = re.compile(r"\s{0,20}<mx-reply>.*?</mx-reply>", re.IGNORECASE | re.DOTALL)
_SEPARATORS = ":,"


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    display_name: str | None = None


def _after(text: str, start: int) -> str | None:
    """The rest of the text after an address, or None if the address is only a word prefix."""
    rest = text[start:]
    if rest[:1] in tuple(_SEPARATORS):
        rest = rest[1:]
    if rest and not rest[0].isspace():
        return None
    return rest.strip()


def _strip_name(body: str, name: str) -> str | None:
    if name and body[: len(name)].casefold() == name.casefold():
        return _after(body, len(name))
    return None


def strip_reply_fallback(body: str) -> str:
    """The body without the quoted ``> `` lines older clients put in front of a reply."""
    if not body.startswith(">"):
        return body
    lines = body.split("\n")
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    return "\n".join(lines[index:])


def command_text(body: str, bot: BotIdentity, formatted_body: str | None = None) -> str | None:
    """The command part of a message addressed to the bot, else None."""
    text = strip_reply_fallback(body).lstrip()
    if formatted_body:
        formatted_body = formatted_body[:20_000]
        quoted = _MX_REPLY.match(formatted_body)  # only ever at the very start
        if quoted:
            formatted_body = formatted_body[quoted.end() :]
    rest = _strip_name(text, PREFIX)
    if rest is not None:
        return rest
    for name in (bot.user_id, bot.display_name or ""):
        rest = _strip_name(text, name)
        if rest is not None:
            return rest
    if formatted_body:
        pill = _PILL.match(formatted_body[:2_000])
        if pill and unquote(pill.group(2)) == bot.user_id:
            tail = formatted_body[pill.end() :]
            # The plain body of a pill message starts with the pill's text; prefer it so
            # that quoting in the command survives without HTML entities.
            label = _TAG.sub("", pill.group(3)).strip()
            rest = _strip_name(text, label) if label else None
            if rest is not None:
                return rest
            return _after_html(tail)
    return None


def _after_html(tail: str) -> str:
    text = html.unescape(_TAG.sub(" ", tail[:10_000]))
    return text.lstrip(_SEPARATORS).strip()
