"""Splitting a command body into words and ``key=value`` options.

Quoting follows what people type on phones as well as keyboards: "…", '…', and the curly
quotes that mobile keyboards substitute. A quote only opens at the start of a word or right
after ``=``, so an apostrophe inside a name (O'Brien) stays literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from partner_bots.commands.errors import CommandError, ErrorCode

MAX_BODY = 8_000  # characters; a command longer than this is refused before any parsing

_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u201e": "\u201c"}
_CLOSERS = {'"': '"\u201c\u201d', "'": "'\u2018\u2019"}
_OPTION = re.compile(r"([A-Za-z][A-Za-z0-9_-]{0,31})=")


@dataclass(frozen=True)
class Token:
    text: str
    key: str | None = None  # lower-cased option name for key=value tokens
    quoted: bool = False


def _closer_set(opener: str) -> str:
    closing = _QUOTES[opener]
    return _CLOSERS['"'] if closing in _CLOSERS['"'] else _CLOSERS["'"]


def _read_quoted(body: str, start: int) -> tuple[str, int]:
    """The text of a quoted value starting at the opening quote, and the index after it."""
    closers = _closer_set(body[start])
    escapes = body[start] in '"\u201c\u201e'
    out: list[str] = []
    i = start + 1
    while i < len(body):
        char = body[i]
        if escapes and char == "\\" and i + 1 < len(body) and body[i + 1] in '"\\':
            out.append(body[i + 1])
            i += 2
            continue
        if char in closers:
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise CommandError(ErrorCode.UNBALANCED_QUOTE, "A quote was opened but never closed.")


def _read_word(body: str, start: int) -> tuple[str, int]:
    i = start
    while i < len(body) and not body[i].isspace():
        i += 1
    return body[start:i], i


def tokenize(body: str) -> list[Token]:
    if len(body) > MAX_BODY:
        raise CommandError(ErrorCode.TOO_LONG, f"A command may be at most {MAX_BODY} characters.")
    tokens: list[Token] = []
    i = 0
    while i < len(body):
        if body[i].isspace():
            i += 1
            continue
        option = _OPTION.match(body, i)
        if option:
            key = option.group(1).lower()
            i = option.end()
            if i < len(body) and body[i] in _QUOTES:
                value, i = _read_quoted(body, i)
                quoted = True
            else:
                value, i = _read_word(body, i)
                quoted = False
            if i < len(body) and not body[i].isspace():
                raise CommandError(
                    ErrorCode.UNBALANCED_QUOTE, f"Put a space after the quoted value of {key}=."
                )
            tokens.append(Token(value, key=key, quoted=quoted))
        elif body[i] in _QUOTES:
            value, i = _read_quoted(body, i)
            if i < len(body) and not body[i].isspace():
                raise CommandError(ErrorCode.UNBALANCED_QUOTE, "Put a space after a closing quote.")
            tokens.append(Token(value, quoted=True))
        else:
            value, i = _read_word(body, i)
            tokens.append(Token(value))
    return tokens
