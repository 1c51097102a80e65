"""Languages as BCP 47 tags, compared the way people mean them.

A provider who speaks ``es`` serves a request for ``es-MX``, and ``pt`` serves ``pt-BR``:
regions are dialects, not different languages. Scripts are different languages to a
reader: ``zh-Hant`` (traditional) is not ``zh-Hans`` (simplified), and ``zh-TW`` is
traditional. So two tags match when their language and (likely) script agree, after
``langcodes`` normalises deprecated and alias codes (``iw`` → ``he``, ``tl`` → ``fil``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import langcodes

MAX_TAG = 35  # BCP 47 tags used for people's languages are short; longer is not a language


class BadLanguage(ValueError):
    """Not a BCP 47 language tag that names a known language."""


@lru_cache(maxsize=4096)
def standard(tag: str) -> str:
    """The canonical spelling of ``tag`` (``EN-us`` → ``en-US``); raises ``BadLanguage``."""
    raw = tag.strip()
    if not raw or len(raw) > MAX_TAG:
        raise BadLanguage(tag)
    try:
        language = langcodes.Language.get(raw)
    except (langcodes.LanguageTagError, ValueError):
        raise BadLanguage(tag) from None
    if not language.language or not language.is_valid():
        raise BadLanguage(tag)
    return language.to_tag()


@lru_cache(maxsize=4096)
def match_key(tag: str) -> str:
    """What two tags must share to match: language and script (``es-MX`` → ``es-Latn``).

    A tag that cannot be parsed keys as itself, lower-cased, so old stored values still
    match their exact equal and never anything else.
    """
    try:
        likely = langcodes.Language.get(standard(tag)).maximize()
    except BadLanguage:
        return tag.strip().lower()
    return f"{likely.language}-{likely.script}" if likely.script else str(likely.language)


def keys(tags: Iterable[str]) -> frozenset[str]:
    return _keys(frozenset(tags))


@lru_cache(maxsize=1 << 16)
def _keys(tags: frozenset[str]) -> frozenset[str]:
    return frozenset(match_key(t) for t in tags)


def shared(wanted: Iterable[str], spoken: Iterable[str]) -> list[str]:
    """The requested tags (as written) that the speaker serves, sorted."""
    spoken_keys = keys(frozenset(spoken))
    return sorted({t for t in wanted if match_key(t) in spoken_keys})
