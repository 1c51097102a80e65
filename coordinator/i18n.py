"""Languages of the public pages: catalogs, who gets which language, right-to-left.

The ``.po`` files under ``locale/`` are the only source: each is compiled in memory when
first used, so a stale ``.mo`` can never be served. A string missing from a catalog falls
back to its English msgid, message by message (never a blank). The dashboard and the
staff sign-in stay English: only public paths negotiate (docs/translating.md).
"""

from __future__ import annotations

import gettext as gettext_mod
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
SUPPORTED = ("en", "es", "ar")  # the order of the language switch
RTL = frozenset({"ar"})
COOKIE = "dsx_lang"
QUERY = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
# Staff pages are English for now; everything else a visitor can reach negotiates.
STAFF_PREFIXES = ("/dashboard", "/api/", "/login", "/logout")


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with a plural for extraction (``-k N_plural:1,2``)."""
    return singular, plural


@dataclass(frozen=True)
class Lang:
    """The language of one response."""

    tag: str = DEFAULT
    explicit: bool = False  # chosen by the visitor (link or cookie), not negotiated
    public: bool = False  # a public page: show the switch, negotiate

    @property
    def dir(self) -> str:
        return "rtl" if self.tag in RTL else "ltr"


@dataclass(frozen=True)
class Choice:
    tag: str
    name: str  # the language's own name, as the switch shows it
    dir: str


ENGLISH = Lang()
CURRENT: ContextVar[Lang | None] = ContextVar("dsx_lang", default=None)


def current() -> Lang:
    return CURRENT.get() or ENGLISH


@cache
def translations(tag: str) -> gettext_mod.NullTranslations:
    """The compiled catalog for ``tag`` (fuzzy and empty entries left out: English shows)."""
    po = LOCALE_DIR / tag / "LC_MESSAGES" / f"{DOMAIN}.po"
    if tag == DEFAULT or not po.exists():
        return gettext_mod.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=tag)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return gettext_mod.GNUTranslations(buf)


# A message missing from a right-to-left catalog shows in English, isolated as
# left-to-right text (LRI ... PDI) so its punctuation stays at its end. Plain characters,
# not markup: the same text may be a page's <title> or an attribute.
LRI, PDI = "\u2066", "\u2069"


def _fallback(lang: Lang, english: str, shown: str) -> str:
    if lang.tag in RTL and shown == english and english:
        return f"{LRI}{shown}{PDI}"
    return shown


def gettext(message: str) -> str:
    lang = current()
    return _fallback(lang, message, translations(lang.tag).gettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    lang = current()
    shown = translations(lang.tag).ngettext(singular, plural, n)
    return _fallback(lang, plural if n != 1 else singular, shown)


def pgettext(context: str, message: str) -> str:
    lang = current()
    return _fallback(lang, message, translations(lang.tag).pgettext(context, message))


def language_name(tag: str, reader: str | None = None) -> str:
    """``tag``'s name in the reader's language (CLDR data through Babel)."""
    reader_locale = Locale.parse(reader or current().tag, sep="-")
    if tag == "fil":
        # People look for Tagalog; ``fil`` is its canonical tag (docs/translating.md).
        name = reader_locale.languages.get("tl")
    else:
        name = Locale.parse(tag, sep="-").get_display_name(reader_locale)
    return name or tag


def region_name(code: str, reader: str | None = None) -> str:
    return Locale.parse(reader or current().tag, sep="-").territories.get(code, code)


def switch_choices() -> tuple[Choice, ...]:
    return tuple(Choice(t, language_name(t, t), "rtl" if t in RTL else "ltr") for t in SUPPORTED)


def parse_accept_language(header: str) -> list[str]:
    """Tags in the visitor's order of preference (q-values honoured, ``q=0`` dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag != "*" and q > 0 and len(tag) <= 35:
            ranked.append((-q, i, tag))
    return [tag for _, _, tag in sorted(ranked)]


def supported(tag: str | None) -> str | None:
    if not tag:
        return None
    found = negotiate_locale([tag], SUPPORTED, sep="-")
    return found if found in SUPPORTED else None


def negotiate(query: Mapping[str, str], cookies: Mapping[str, str], accept: str) -> Lang:
    """A link's ``?lang=`` first, then the visitor's cookie, then ``Accept-Language``."""
    for chosen in (query.get(QUERY), cookies.get(COOKIE)):
        tag = supported(chosen)
        if tag:
            return Lang(tag, explicit=True, public=True)
    preferred = parse_accept_language(accept)
    # Babel matches ``es-MX`` to ``es``; try each preference in order, then its base.
    for want in preferred:
        tag = supported(want) or supported(want.split("-")[0])
        if tag:
            return Lang(tag, public=True)
    return Lang(DEFAULT, public=True)


def is_public(path: str) -> bool:
    return not path.startswith(STAFF_PREFIXES)
