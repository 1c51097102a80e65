"""Neutralizing text that other people typed, before anyone else reads it.

Names, notes and public-form fields may carry control characters, bidi overrides that
reorder the surrounding text, invisible characters that make two names look alike, or
line breaks that fake a further line ("Email: ...") in a notice. The Matrix side renders
room replies through this module (``partner_bots.render.text``) and the web cleans every
public-form value with it, so a value reads the same wherever it is shown.
"""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"

# Explicit bidi embeddings/overrides/isolates, marks, and the Arabic letter mark.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
# Invisible characters that let two different names look the same.
INVISIBLES = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")

DEFAULT_NAME_LIMIT = 120
DEFAULT_TEXT_LIMIT = 2_000


def is_unsafe_char(char: str, *, keep_newlines: bool = False) -> bool:
    """True for characters that must never reach a reader as they are."""
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


def tidy(text: str, *, multiline: bool = False) -> str:
    """Unsafe characters removed and whitespace tidied, nothing cut.

    One-line text keeps no line break of any kind (``\\n``, ``\\r``, U+2028/2029): each
    becomes a space, so words on either side stay apart. Multi-line text keeps ``\\n``
    only, with each line's spaces tidied.
    """
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
        return "\n".join(lines).strip("\n")
    return " ".join(cleaned.split())


def clean(text: str, limit: int = DEFAULT_NAME_LIMIT, *, multiline: bool = False) -> str:
    """Text with unsafe characters removed, whitespace tidied, capped with an ellipsis.

    The cap is applied to the input first, so a 10 MB name costs no more than a short one.
    """
    return cap(tidy(text[: limit * 4 + 16], multiline=multiline), limit)
