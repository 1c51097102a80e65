"""The two public forms as data: one schema drives rendering, validation and storage.

DSX lost data because the form, the processor and the store each spelled field names
their own way (``service1handle`` vs ``serviceHandle``). Here the template renders
``FieldSpec.name``, the parser reads ``FieldSpec.name`` and the store writes
``FieldSpec.name``; a test pins all three together.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType

from babel import Locale

from coordinator.domain import Urgency
from coordinator.i18n import N_, SUPPORTED, N_plural, language_name, region_name, translations
from coordinator.text import tidy


class FormKind(StrEnum):
    REQUEST = "request"
    PROVIDER = "provider"


class Widget(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    TEL = "tel"
    URL = "url"
    TEXTAREA = "textarea"
    RADIO = "radio"
    CHECKBOXES = "checkboxes"
    COUNTRY = "country"


class Shown(StrEnum):
    """How a choice's label is shown in the reader's language."""

    TEXT = "text"  # a catalog message
    LANGUAGE = "language"  # the language's name from CLDR (Babel)
    REGION = "region"  # the country's name from CLDR (Babel)


@dataclass(frozen=True)
class Choice:
    value: str
    # In English: what the partner room shows (partner_bots.workflow.intake); a catalog
    # msgid when ``shown`` is TEXT, else CLDR's English name.
    label: str
    shown: Shown = Shown.TEXT


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: Widget = Widget.TEXT
    required: bool = False
    max_len: int = 200
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    group: str = ""  # fieldset legend the field is shown under

    @property
    def anchor(self) -> str:
        """The id of the element an error link leads to: the input, or a choice's first."""
        if self.widget in (Widget.CHECKBOXES, Widget.RADIO):
            return f"f-{self.name}-0"
        return f"f-{self.name}"


@dataclass(frozen=True)
class FormSchema:
    kind: FormKind
    title: str
    intro: str
    fields: tuple[FieldSpec, ...]
    # A group's rule, shown under its heading before anyone gets it wrong.
    notes: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    def note(self, group: str) -> str:
        return dict(self.notes).get(group, "")


class Problem(str):
    """A validation message: reads as its English text, and carries its msgid, plural
    and placeholders so the page shows it in the reader's language (never as pieces)."""

    msgid: str
    plural: str | None
    n: int | None
    params: Mapping[str, object]

    def __new__(
        cls, msgid: str, plural: str | None = None, n: int | None = None, **params: object
    ) -> Problem:
        english = plural if plural is not None and n != 1 else msgid
        self = super().__new__(cls, english % params if params else english)
        self.msgid, self.plural, self.n, self.params = msgid, plural, n, MappingProxyType(params)
        return self


US_OR_UNKNOWN = frozenset({"", "US", "PR", "GU", "VI", "AS", "MP", "REMOTE"})
CONTACT_FIELDS = ("phone", "email", "signal", "matrix")
CONTACT_ERROR = Problem(
    N_("Give at least one way to reach you: phone, email, Signal or Matrix ID.")
)
REACH = N_("How to reach you")
CONTACT_RULE = N_(
    "Give at least one of phone, email, Signal or Matrix ID: whichever is safest for you. "
    "The rest is optional."
)
DUPLICATED = N_("This field arrived more than once with different values. Check it and send again.")

# The languages most spoken at home in the U.S. (after English), as canonical BCP 47
# tags that ``coordinator.routing.languages`` accepts; ``mis`` is "another language".
LANGUAGE_TAGS = (
    "en", "es", "zh-Hans", "zh-Hant", "fil", "vi", "ar", "fr", "ko", "ru", "ht", "hi", "ur",
    "bn", "pa", "pt", "fa",
)  # fmt: skip
LANGUAGES = (
    *(Choice(t, language_name(t, "en"), Shown.LANGUAGE) for t in LANGUAGE_TAGS),
    Choice("mis", N_("Another language (tell us which below)")),
)
# CLDR's two-letter territories that are countries (ISO 3166-1, and Kosovo): not the
# groupings (EU, UN), the unknown or pseudo regions, nor the parts CLDR lists apart.
_NOT_COUNTRIES = frozenset(
    {"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB", "AC", "CP", "DG", "EA", "IC", "TA"}
)
COUNTRY_CODES: tuple[str, ...] = tuple(
    sorted(
        c
        for c in map(str, Locale.parse("en").territories)
        if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES
    )
)
REMOTE = "REMOTE"
REMOTE_LABEL = N_("Remote, no single location")
COUNTRIES = (
    Choice("US", region_name("US", "en"), Shown.REGION),
    Choice(REMOTE, REMOTE_LABEL),
    *(Choice(c, region_name(c, "en"), Shown.REGION) for c in COUNTRY_CODES if c != "US"),
)
# Names people type that CLDR does not give (folded as ``_fold`` does).
_COUNTRY_ALIASES = {
    "usa": "US", "us": "US", "u s": "US", "u s a": "US", "united states of america": "US",
    "eeuu": "US", "ee uu": "US", "estados unidos de america": "US", "uk": "GB",
    "great britain": "GB", "england": "GB", "remote": REMOTE, "remoto": REMOTE,
    "online": REMOTE, "en linea": REMOTE,
}  # fmt: skip
URGENCIES = (
    Choice("low", N_("Low: no deadline")),
    Choice("normal", N_("Normal: within a week or two")),
    Choice("high", N_("Urgent: within 24 hours")),
    Choice("critical", N_("Critical: happening now (also reach us directly: see above)")),
)
AREAS = (
    Choice("communications", N_("Secure communications")),
    Choice("data", N_("Data protection")),
    Choice("hardware", N_("Devices")),
    Choice("infrastructure", N_("Websites and infrastructure")),
    Choice("network", N_("Networks")),
    Choice("threat-modeling", N_("Threat modeling")),
    Choice("assessment", N_("Security assessment")),
    Choice("travel", N_("Travel")),
    Choice("protests", N_("Protests and events")),
    Choice("hacked", N_("We were hacked")),
    Choice("doxxed", N_("We were doxxed or harassed")),
    Choice("not-sure", N_("I don't know yet")),
)
DURATIONS = (
    Choice("one-time", N_("One-time help")),
    Choice("ongoing", N_("Ongoing support")),
    Choice("not-sure", N_("Not sure")),
)
BACKGROUNDS = (
    Choice("trainer", N_("Trainer")),
    Choice("software", N_("Software")),
    Choice("facilitator", N_("Facilitator")),
    Choice("hardware", N_("Hardware")),
    Choice("other", N_("Other")),
)
SKILLS = (
    Choice("analysis", N_("Analysis")),
    Choice("internal-process", N_("Internal process")),
    Choice("securing-systems", N_("Securing systems")),
    Choice("physical", N_("Physical security")),
    Choice("social", N_("Social engineering and harassment")),
    Choice("digital", N_("Digital hygiene")),
    Choice("development", N_("Development")),
)

COUNTRY_MAX = 80  # the longest CLDR name is under 50 characters

_CONTACTS = (
    FieldSpec("phone", N_("Phone"), Widget.TEL, max_len=40, group=REACH),
    FieldSpec("email", N_("Email"), Widget.EMAIL, max_len=200, group=REACH),
    FieldSpec("signal", N_("Signal number or username"), max_len=80, group=REACH),
    FieldSpec(
        "matrix",
        N_("Matrix ID"),
        max_len=200,
        hint=N_("like @name:server"),
        group=REACH,
    ),
    FieldSpec("pgp", N_("PGP fingerprint (optional)"), max_len=120, group=REACH),
)

REQUEST_FORM = FormSchema(
    FormKind.REQUEST,
    N_("Request assistance"),
    N_(
        "Tell us what you need. Everything you type is encrypted the moment it arrives; a "
        "partner who works with your community will contact you through the channel you choose."
    ),
    # What is happening comes first: someone in trouble should not have to get through nine
    # identity fields before saying why they came (docs/es/formulario.md).
    (
        FieldSpec(
            "need",
            N_("What is happening, and what would help?"),
            Widget.TEXTAREA,
            required=True,
            max_len=4000,
            group=N_("Your need"),
        ),
        FieldSpec(
            "urgency",
            N_("How urgent is it?"),
            Widget.RADIO,
            required=True,
            choices=URGENCIES,
            group=N_("Your need"),
        ),
        FieldSpec(
            "areas",
            N_("Areas of need"),
            Widget.CHECKBOXES,
            required=True,
            choices=AREAS,
            group=N_("Your need"),
        ),
        FieldSpec(
            "duration", N_("Kind of help"), Widget.RADIO, choices=DURATIONS, group=N_("Your need")
        ),
        FieldSpec(
            "country",
            N_("Country"),
            Widget.COUNTRY,
            required=True,
            choices=COUNTRIES,
            max_len=COUNTRY_MAX,
            hint=N_(
                "Type its name or pick it from the list. Outside the U.S.? We refer you to a "
                "global partner."
            ),
            group=N_("Your need"),
        ),
        FieldSpec(
            "languages",
            N_("Languages you work in"),
            Widget.CHECKBOXES,
            required=True,
            choices=LANGUAGES,
            group=N_("Your need"),
        ),
        *_CONTACTS,
        FieldSpec("name", N_("Your name or an alias"), required=True, group=N_("About you")),
        FieldSpec("title", N_("Your role"), group=N_("About you")),
        FieldSpec("organization", N_("Organization"), group=N_("About you")),
        FieldSpec("website", N_("Website"), Widget.URL, group=N_("About you")),
        FieldSpec(
            "heard", N_("How did you hear about us? (optional)"), max_len=300, group=N_("About you")
        ),
    ),
    notes=((REACH, CONTACT_RULE),),
)

PROVIDER_FORM = FormSchema(
    FormKind.PROVIDER,
    N_("Become a provider"),
    N_(
        "Volunteer your security skills. You join after an existing member vouches for you or "
        "two organizations you served give references, and you start in a probation pod."
    ),
    # What you offer first, then how to reach you, then who you are (as the request form).
    (
        FieldSpec(
            "skills",
            N_("Skills"),
            Widget.CHECKBOXES,
            required=True,
            choices=SKILLS,
            group=N_("Your work"),
        ),
        FieldSpec(
            "qualifications",
            N_("Experience with vulnerable communities"),
            Widget.TEXTAREA,
            required=True,
            max_len=4000,
            group=N_("Your work"),
        ),
        FieldSpec(
            "background",
            N_("Background"),
            Widget.CHECKBOXES,
            choices=BACKGROUNDS,
            group=N_("Your work"),
        ),
        FieldSpec(
            "languages",
            N_("Languages you work in"),
            Widget.CHECKBOXES,
            required=True,
            choices=LANGUAGES,
            group=N_("Your work"),
        ),
        FieldSpec(
            "country",
            N_("Country"),
            Widget.COUNTRY,
            required=True,
            choices=COUNTRIES,
            max_len=COUNTRY_MAX,
            hint=N_("Type its name or pick it from the list."),
            group=N_("Your work"),
        ),
        FieldSpec(
            "references",
            N_("Who can vouch for you, or two references"),
            Widget.TEXTAREA,
            max_len=2000,
            group=N_("Your work"),
        ),
        *_CONTACTS,
        FieldSpec("name", N_("Your name"), required=True, group=N_("About you")),
        FieldSpec("organization", N_("Organization or company (optional)"), group=N_("About you")),
        FieldSpec("website", N_("Website"), Widget.URL, group=N_("About you")),
    ),
    notes=((REACH, CONTACT_RULE),),
)

SCHEMAS: Mapping[FormKind, FormSchema] = MappingProxyType(
    {FormKind.REQUEST: REQUEST_FORM, FormKind.PROVIDER: PROVIDER_FORM}
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{6,30}$")
_MXID = re.compile(r"^@[A-Za-z0-9._=/+-]+:[A-Za-z0-9.-]+(:\d+)?$")
_URL = re.compile(r"^https?://[^\s]+$")


def _fold(text: str) -> str:
    """A name as people type it: any case, accents or none, punctuation ignored."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(kept.split())


@cache
def _country_index() -> Mapping[str, str]:
    """Every way of naming a country the form accepts: its code, its CLDR name in each
    supported language, and a few common short forms."""
    index: dict[str, str] = {}
    for tag in SUPPORTED:
        names = Locale.parse(tag).territories
        for code in COUNTRY_CODES:
            if code in names:
                index.setdefault(_fold(str(names[code])), code)
        index.setdefault(_fold(translations(tag).gettext(REMOTE_LABEL)), REMOTE)
    index.update(_COUNTRY_ALIASES)
    for code in (*COUNTRY_CODES, REMOTE):
        index[_fold(code)] = code
    return MappingProxyType(index)


def country_code(typed: str) -> str | None:
    """The code for a country typed by name (English, Spanish, Arabic) or code, or None."""
    return _country_index().get(_fold(typed))


@dataclass(frozen=True)
class Submission:
    """What was typed, by field name; kept whole so an error loses nothing."""

    kind: FormKind
    values: Mapping[str, str | tuple[str, ...]]

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        return value if isinstance(value, str) else ", ".join(value)

    def selected(self, name: str) -> tuple[str, ...]:
        value = self.values.get(name, ())
        return value if isinstance(value, tuple) else ((value,) if value else ())

    @property
    def urgency(self) -> Urgency:
        value = self.text("urgency")
        return Urgency.parse(value) if value else Urgency.NORMAL

    @property
    def country(self) -> str:
        return self.text("country")

    @property
    def outside_us(self) -> bool:
        """Non-U.S. cases are referred to a global partner, not refused. "Remote" and a
        U.S. territory stay here; staff can still refer them from the dashboard."""
        return self.country not in US_OR_UNKNOWN


@dataclass(frozen=True)
class Validation:
    submission: Submission
    errors: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def read(schema: FormSchema, form: Mapping[str, object]) -> Submission:
    """Pick this schema's fields out of a posted form, cleaned; anything else is dropped.

    Cleaning never cuts: a value that is too long after cleaning gets an error and is
    shown again whole."""
    values: dict[str, str | tuple[str, ...]] = {}
    getall = getattr(form, "getall", None)
    for spec in schema.fields:
        if spec.widget is Widget.CHECKBOXES:
            raw = getall(spec.name, []) if getall else form.get(spec.name, [])
            if isinstance(raw, str):
                items: list[object] = [raw]
            else:
                items = list(raw) if isinstance(raw, Iterable) else []
            posted = dict.fromkeys(str(v) for v in items if isinstance(v, str))
            # In the list's order whatever the post's, so the same choices store the same.
            listed = [c.value for c in spec.choices if c.value in posted]
            values[spec.name] = (*listed, *(v for v in posted if v not in set(listed)))
        else:
            value = form.get(spec.name, "")
            text = value if isinstance(value, str) else ""
            # The same cleaning as room input (the fields end up in a partner's room as
            # "Label: value" lines): no bidi override, no invisible character, and no line
            # break inside a one-line field that could fake a further field's line.
            values[spec.name] = tidy(text, multiline=spec.widget is Widget.TEXTAREA)
    return Submission(schema.kind, MappingProxyType(values))


def _check_field(spec: FieldSpec, sub: Submission) -> Problem | None:
    if spec.widget is Widget.CHECKBOXES:
        picked = sub.selected(spec.name)
        allowed = {c.value for c in spec.choices}
        if any(p not in allowed for p in picked):
            return Problem(N_("Pick from the listed options."))
        if spec.required and not picked:
            return Problem(N_("Pick at least one."))
        return None
    value = sub.text(spec.name)
    if not value:
        return Problem(N_("This is required.")) if spec.required else None
    if len(value) > spec.max_len:
        return Problem(
            *N_plural(
                "Keep this under %(max)d character (now %(now)d).",
                "Keep this under %(max)d characters (now %(now)d).",
            ),
            spec.max_len,
            max=spec.max_len,
            now=len(value),
        )
    if spec.widget is Widget.RADIO and value not in {c.value for c in spec.choices}:
        return Problem(N_("Pick one of the listed options."))
    if spec.widget is Widget.COUNTRY and country_code(value) is None:
        return Problem(
            N_(
                "We could not find a country called “%(typed)s”. Type its name in English, "
                "Spanish or Arabic (like Mexico or México), pick it from the list, or type its "
                "two-letter code (like MX). Working from many places? Type Remote."
            ),
            typed=value[:60],
        )
    if spec.widget is Widget.EMAIL and not _EMAIL.match(value):
        return Problem(N_("This does not look like an email address (name@example.org)."))
    if spec.widget is Widget.TEL and not _PHONE.match(value):
        return Problem(N_("Use digits, spaces and + ( ) - only, like +1 555 010 0000."))
    if spec.widget is Widget.URL and not _URL.match(value):
        return Problem(N_("Start the address with https:// or http://."))
    if spec.name == "matrix" and not _MXID.match(value):
        return Problem(N_("A Matrix ID looks like @name:server.org."))
    return None


def _duplicated(schema: FormSchema, form: Mapping[str, object]) -> set[str]:
    """One-value fields posted more than once with different values (a forged post): which
    one was meant cannot be known, so none is taken."""
    getall = getattr(form, "getall", None)
    if getall is None:
        return set()
    return {
        spec.name
        for spec in schema.fields
        if spec.widget is not Widget.CHECKBOXES and len(set(map(str, getall(spec.name, [])))) > 1
    }


def validate(schema: FormSchema, form: Mapping[str, object]) -> Validation:
    sub = read(schema, form)
    code = country_code(sub.country) if sub.country else None
    if code:
        sub = Submission(sub.kind, MappingProxyType({**sub.values, "country": code}))
    errors: dict[str, Problem] = {}
    twice = _duplicated(schema, form)
    for spec in schema.fields:
        problem = Problem(DUPLICATED) if spec.name in twice else _check_field(spec, sub)
        if problem:
            errors[spec.name] = problem
    if not any(sub.text(name) for name in CONTACT_FIELDS):
        for name in CONTACT_FIELDS:
            errors.setdefault(name, CONTACT_ERROR)
    return Validation(sub, MappingProxyType(errors))


@dataclass(frozen=True)
class SummaryItem:
    """One line of the error summary at the top of the form: a link to where to fix it."""

    anchor: str
    label: str  # msgid: the field's label, or the group's heading for a group's rule
    problem: str


def summary(schema: FormSchema, errors: Mapping[str, str]) -> tuple[SummaryItem, ...]:
    """The errors in the form's order; the contact rule, which marks every contact field,
    is one line (leading to the first of them), not four."""
    items: list[SummaryItem] = []
    contact_listed = False
    for spec in schema.fields:
        problem = errors.get(spec.name)
        if problem is None:
            continue
        if problem == CONTACT_ERROR and spec.name in CONTACT_FIELDS:
            if not contact_listed:
                items.append(SummaryItem(spec.anchor, spec.group or spec.label, problem))
                contact_listed = True
            continue
        items.append(SummaryItem(spec.anchor, spec.label, problem))
    return tuple(items)
