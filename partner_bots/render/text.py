"""Neutralizing user-supplied text before it is shown in a room.

Names and notes come from other people: they may carry control characters, bidi overrides
that reorder the surrounding reply, HTML, or megabytes of text. Everything user-supplied goes
through here so that a hostile name can never change how the rest of a reply reads. The
cleaning itself is ``coordinator.text`` (the web cleans public-form values with it too);
this module adds the isolation and escaping a room body needs.
"""

from __future__ import annotations

import html

from coordinator.text import (
    BIDI_CONTROLS,
    DEFAULT_NAME_LIMIT,
    DEFAULT_TEXT_LIMIT,
    ELLIPSIS,
    INVISIBLES,
    cap,
    clean,
    has_unsafe_chars,
    is_unsafe_char,
)

__all__ = [
    "BIDI_CONTROLS",
    "ELLIPSIS",
    "FSI",
    "INVISIBLES",
    "PDI",
    "cap",
    "clean",
    "has_unsafe_chars",
    "is_unsafe_char",
    "markup",
    "markup_block",
    "plain",
    "plain_block",
]

FSI = "\u2068"  # first strong isolate: the name's direction cannot leak out
PDI = "\u2069"  # pop directional isolate


def plain(text: str, limit: int = DEFAULT_NAME_LIMIT) -> str:
    """A user-supplied value for a plain-text body: cleaned and isolated."""
    return f"{FSI}{clean(text, limit)}{PDI}"


def markup(text: str, limit: int = DEFAULT_NAME_LIMIT) -> str:
    """A user-supplied value for an HTML body: cleaned, escaped, isolated."""
    return f"<bdi>{html.escape(clean(text, limit), quote=True)}</bdi>"


def plain_block(text: str, limit: int = DEFAULT_TEXT_LIMIT) -> str:
    """Multi-line user text (a note) for a plain body."""
    return f"{FSI}{clean(text, limit, multiline=True)}{PDI}"


def markup_block(text: str, limit: int = DEFAULT_TEXT_LIMIT) -> str:
    """Multi-line user text for an HTML body; line breaks become ``<br>``."""
    lines = clean(text, limit, multiline=True).split("\n")
    return "<bdi>" + "<br>".join(html.escape(line, quote=True) for line in lines) + "</bdi>"
