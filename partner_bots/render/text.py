"""Neutralizing user-supplied text before it is shown in a room.

Names and notes come from other people: they may carry control characters, bidi overrides
that reorder the surrounding reply, HTML, or megabytes of text. Everything user-supplied goes
through here so that a hostile name can never change how the rest of a reply reads.
"""

from __future__ import annotations

import html
import unicodedata

ELLIPSIS = "…"
FSI = "\u2068"  # first strong isolate: the name's direction cannot leak out
PDI = "\u2069"  # pop directional isolate

# Explicit bidi embeddings/overrides/isolates, marks, and the Arabic letter mark.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
# Invisible characters that let two different names look the same.
INVISIBLES = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")

DEFAULT_NAME_LIMIT = 120
DEFAULT_TEXT_LIMIT = 2_000


def is_unsafe_char(char: str, *, keep_newlines: bool = False) -> bool:
    """True for characters that must never reach a reply as they are."""
    if keep_newlines and char in "\n\t":
        return False
    if char in BIDI_CONTROLS or char in INVISIBLES:
        return True
    category = unicodedata.category(char)
    # Cc: C0/C1 controls; Cs: lone surrogates; Co/Cn: private use and unassigned;
    # Zl/Zp: line and paragraph separators that break plain-text layout.
    return category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp")


def has_unsafe_chars(text: str) -> bool:
    return any(is_unsafe_char(char) for char in text)


def cap(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending with an ellipsis when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def clean(text: str, limit: int = DEFAULT_NAME_LIMIT, *, multiline: bool = False) -> str:
    """Text with unsafe characters removed, whitespace tidied, capped with an ellipsis.

    The cap is applied to the input first, so a 10 MB name costs no more than a short one.
    """
    text = text[: limit * 4 + 16]
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = [
        (" " if char in "\t\u2028\u2029" or (char == "\n" and not multiline) else char)
        for char in text
        if char in "\n\t\u2028\u2029" or not is_unsafe_char(char)
    ]
    cleaned = "".join(kept)
    if multiline:
        lines = [" ".join(line.split()) for line in cleaned.split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        cleaned = "\n".join(lines).strip("\n")
    else:
        cleaned = " ".join(cleaned.split())
    return cap(cleaned, limit)


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
