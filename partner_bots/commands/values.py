"""Value kinds: how one raw argument string becomes a typed, validated value.

Each kind knows its own syntax hint for help texts, its length cap, and its error message.
Errors never quote the rejected value back: it may be personal data, or hostile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from coordinator.routing.regions import normalize as normalize_region
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.render.text import clean, has_unsafe_chars

MAX_LIST_ITEMS = 20

_SERVER = (
    r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?)(?::\d{1,5})?"
)
_USER_ID = re.compile(rf"@[A-Za-z0-9._=/+-]{{1,200}}:{_SERVER}")
# Room version 12 room ids carry no server name: "!" and the create event's 43-char hash.
_ROOM = re.compile(rf"![A-Za-z0-9_-]{{43}}|[!#][^\s:]{{1,200}}:{_SERVER}")
_REF = re.compile(r"[A-Za-z0-9#][A-Za-z0-9._:/-]{0,63}")
_HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TAG = re.compile(r"[a-z0-9][a-z0-9_+.-]{0,39}")
_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8}){0,3}")
_REGION = re.compile(r"(?:[A-Z]{2}(?:-[A-Z0-9]{1,3})?|REMOTE)")


def bad(message: str) -> CommandError:
    return CommandError(ErrorCode.BAD_VALUE, message)


def _check_length(label: str, raw: str, limit: int) -> None:
    if len(raw) > limit:
        raise CommandError(ErrorCode.TOO_LONG, f"{label} may be at most {limit} characters.")


class Kind(Protocol):
    """Parses one raw value; raises CommandError (bad_value or too_long) when it is invalid."""

    @property
    def hint(self) -> str: ...

    def parse(self, label: str, raw: str) -> Any: ...


@dataclass(frozen=True)
class Pattern:
    """A single token matching a regular expression, e.g. an id or a handle."""

    regex: re.Pattern[str]
    hint: str
    what: str
    limit: int = 64
    fold: bool = False

    def parse(self, label: str, raw: str) -> str:
        _check_length(label, raw, self.limit)
        value = raw.strip()
        if self.fold:
            value = value.lower()
        if not self.regex.fullmatch(value):
            raise bad(f"{label} must be {self.what}.")
        return value


@dataclass(frozen=True)
class Name:
    """A human-readable identifier (an organization): any printable text, no hidden characters."""

    hint: str = "<name>"
    limit: int = 120

    def parse(self, label: str, raw: str) -> str:
        _check_length(label, raw, self.limit)
        if has_unsafe_chars(raw):
            raise bad(f"{label} contains control or text-direction characters.")
        value = " ".join(raw.split())
        if not value:
            raise bad(f"{label} must not be empty.")
        return value


@dataclass(frozen=True)
class Member:
    """A Matrix user id (``@user:server``), a member handle or id, or the name of one of
    the partner's organizations (quoted when it has spaces; the bot finds its id)."""

    hint: str = "<@user:server|handle>"

    def parse(self, label: str, raw: str) -> str:
        _check_length(label, raw, 255)
        if raw.startswith("@"):
            return USER.parse(label, raw)
        if _HANDLE.fullmatch(raw):
            return raw
        if has_unsafe_chars(raw) or not " ".join(raw.split()):
            raise bad(f"{label} must be a Matrix id like @name:server, or a handle.")
        return " ".join(raw.split())


@dataclass(frozen=True)
class Text:
    """Free text (a note, a reason). Hidden characters are stripped, never passed on."""

    hint: str = "<text>"
    limit: int = 2_000

    def parse(self, label: str, raw: str) -> str:
        _check_length(label, raw, self.limit)
        value = clean(raw, self.limit, multiline=True)
        if not value:
            raise bad(f"{label} must not be empty.")
        return value


@dataclass(frozen=True)
class ListOf:
    """A comma list (``a,b,c``) of another kind; duplicates dropped, order kept."""

    item: Pattern
    hint: str
    limit: int = MAX_LIST_ITEMS

    def parse(self, label: str, raw: str) -> tuple[str, ...]:
        _check_length(label, raw, self.limit * (self.item.limit + 1))
        items = [part for part in (p.strip() for p in raw.split(",")) if part]
        if not items:
            raise bad(f"{label} needs at least one value, like {self.hint}.")
        if len(items) > self.limit:
            raise CommandError(ErrorCode.TOO_LONG, f"{label} may list at most {self.limit}.")
        values = [self.item.parse(label, part) for part in items]
        return tuple(dict.fromkeys(values))


@dataclass(frozen=True)
class RegionKind:
    hint: str = "<US-CA|US|remote>"

    def parse(self, label: str, raw: str) -> str:
        _check_length(label, raw, 16)
        value = normalize_region(raw)
        if not _REGION.fullmatch(value):
            raise bad(f"{label} must be a region code like US-CA, a country like US, or remote.")
        return value


@dataclass(frozen=True)
class Choice:
    """One of an enum's members, by (case-insensitive) name."""

    enum: type[Enum]

    @property
    def hint(self) -> str:
        return "|".join(member.name.lower() for member in self.enum)

    def parse(self, label: str, raw: str) -> Enum:
        _check_length(label, raw, 32)
        try:
            return self.enum[raw.strip().upper()]
        except KeyError:
            raise bad(f"{label} must be one of {self.hint}.") from None


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int

    @property
    def hint(self) -> str:
        return f"{self.low}-{self.high}"

    def parse(self, label: str, raw: str) -> int:
        value = raw.strip()
        if len(value) > 6 or not value.isascii() or not value.isdigit():
            raise bad(f"{label} must be a whole number from {self.low} to {self.high}.")
        number = int(value)
        if not self.low <= number <= self.high:
            raise bad(f"{label} must be a whole number from {self.low} to {self.high}.")
        return number


@dataclass(frozen=True)
class YesNo:
    hint: str = "yes|no"

    def parse(self, label: str, raw: str) -> bool:
        value = raw.strip().lower()
        if value in ("yes", "y", "true"):
            return True
        if value in ("no", "n", "false"):
            return False
        raise bad(f"{label} must be yes or no.")


USER = Pattern(_USER_ID, "<@user:server>", "a Matrix id like @name:server", limit=255)
ROOM = Pattern(_ROOM, "<!room:server|#alias:server>", "a room id or alias", limit=255)
REF = Pattern(_REF, "<id>", "an id made of letters, digits, - _ . : /", limit=64)
HANDLE = Pattern(_HANDLE, "<handle>", "a handle made of letters, digits, - _ .", limit=64)
CODE = Pattern(_TAG, "<code>", "a short code like hatred", limit=40, fold=True)
TAG = Pattern(_TAG, "<tag>", "short words like phishing or devices", limit=40, fold=True)
LANG = Pattern(_LANG, "<lang>", "language codes like en, es or es-MX", limit=12, fold=True)
TAGS = ListOf(TAG, "<a,b>")
LANGS = ListOf(LANG, "<en,es>", limit=10)
REGIONS_ITEM = Pattern(_REGION, "<region>", "region codes like US-CA, US or remote", limit=16)


@dataclass(frozen=True)
class RegionList:
    hint: str = "<US-CA,US,remote>"

    def parse(self, label: str, raw: str) -> tuple[str, ...]:
        _check_length(label, raw, MAX_LIST_ITEMS * 17)
        upper = ",".join(normalize_region(part) for part in raw.split(","))
        return ListOf(REGIONS_ITEM, self.hint).parse(label, upper)


REGION = RegionKind()
REGIONS = RegionList()
ORG = Name("<org>")
MEMBER = Member()
NOTE = Text("<text>", 2_000)
REASON = Text("<text>", 500)
