"""The two public forms as data: one schema drives rendering, validation and storage.

DSX lost data because the form, the processor and the store each spelled field names
their own way (``service1handle`` vs ``serviceHandle``). Here the template renders
``FieldSpec.name``, the parser reads ``FieldSpec.name`` and the store writes
``FieldSpec.name``; a test pins all three together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from coordinator.domain import Urgency
from coordinator.i18n import N_, N_plural, language_name, region_name
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


@dataclass(frozen=True)
class FormSchema:
    kind: FormKind
    title: str
    intro: str
    fields: tuple[FieldSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


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
_COUNTRY_CODES = (
    "US", "CA", "MX", "GT", "HN", "SV", "PR", "BR", "CO", "GB", "DE", "NL", "FR", "IN", "PH",
    "NG", "KE", "ZA",
)  # fmt: skip
COUNTRIES = (
    Choice("US", region_name("US", "en"), Shown.REGION),
    Choice("REMOTE", N_("Remote, no single location")),
    *(Choice(c, region_name(c, "en"), Shown.REGION) for c in _COUNTRY_CODES[1:]),
)
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

_CONTACTS = (
    FieldSpec("phone", N_("Phone"), Widget.TEL, max_len=40, group=N_("How to reach you")),
    FieldSpec("email", N_("Email"), Widget.EMAIL, max_len=200, group=N_("How to reach you")),
    FieldSpec("signal", N_("Signal number or username"), max_len=80, group=N_("How to reach you")),
    FieldSpec(
        "matrix",
        N_("Matrix ID"),
        max_len=200,
        hint=N_("like @name:server"),
        group=N_("How to reach you"),
    ),
    FieldSpec("pgp", N_("PGP fingerprint (optional)"), max_len=120, group=N_("How to reach you")),
)

REQUEST_FORM = FormSchema(
    FormKind.REQUEST,
    N_("Request assistance"),
    N_(
        "Tell us what you need. Everything you type is encrypted the moment it arrives; a "
        "partner who works with your community will contact you through the channel you choose."
    ),
    (
        FieldSpec("name", N_("Your name or an alias"), required=True, group=N_("About you")),
        FieldSpec("title", N_("Your role"), group=N_("About you")),
        FieldSpec("organization", N_("Organization"), group=N_("About you")),
        FieldSpec("website", N_("Website"), Widget.URL, group=N_("About you")),
        *_CONTACTS,
        FieldSpec(
            "country",
            N_("Country"),
            Widget.COUNTRY,
            required=True,
            choices=COUNTRIES,
            hint=N_("Outside the U.S.? We refer you to a global partner."),
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
            "need",
            N_("What is happening, and what would help?"),
            Widget.TEXTAREA,
            required=True,
            max_len=4000,
            group=N_("Your need"),
        ),
        FieldSpec(
            "heard", N_("How did you hear about us? (optional)"), max_len=300, group=N_("Your need")
        ),
    ),
)

PROVIDER_FORM = FormSchema(
    FormKind.PROVIDER,
    N_("Become a provider"),
    N_(
        "Volunteer your security skills. You join after an existing member vouches for you or "
        "two organizations you served give references, and you start in a probation pod."
    ),
    (
        FieldSpec("name", N_("Your name"), required=True, group=N_("About you")),
        FieldSpec("organization", N_("Organization or company (optional)"), group=N_("About you")),
        FieldSpec("website", N_("Website"), Widget.URL, group=N_("About you")),
        *_CONTACTS,
        FieldSpec(
            "country",
            N_("Country"),
            Widget.COUNTRY,
            required=True,
            choices=COUNTRIES,
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
            "background",
            N_("Background"),
            Widget.CHECKBOXES,
            choices=BACKGROUNDS,
            group=N_("Your work"),
        ),
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
            "references",
            N_("Who can vouch for you, or two references"),
            Widget.TEXTAREA,
            max_len=2000,
            group=N_("Your work"),
        ),
    ),
)

SCHEMAS: Mapping[FormKind, FormSchema] = MappingProxyType(
    {FormKind.REQUEST: REQUEST_FORM, FormKind.PROVIDER: PROVIDER_FORM}
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{6,30}$")
_MXID = re.compile(r"^@[A-Za-z0-9._=/+-]+:[A-Za-z0-9.-]+(:\d+)?$")
_URL = re.compile(r"^https?://[^\s]+$")
_COUNTRY = re.compile(r"^([A-Z]{2}|REMOTE)$")


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
            values[spec.name] = tuple(dict.fromkeys(str(v) for v in items if isinstance(v, str)))
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
    if spec.widget is Widget.COUNTRY and not _COUNTRY.match(value):
        return Problem(
            N_("Pick a country from the list, or type its two-letter code (like US or MX).")
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


def validate(schema: FormSchema, form: Mapping[str, object]) -> Validation:
    sub = read(schema, form)
    if sub.text("country"):
        sub = Submission(sub.kind, MappingProxyType({**sub.values, "country": sub.country.upper()}))
    errors: dict[str, Problem] = {}
    for spec in schema.fields:
        problem = _check_field(spec, sub)
        if problem:
            errors[spec.name] = problem
    if not any(sub.text(name) for name in CONTACT_FIELDS):
        for name in CONTACT_FIELDS:
            errors.setdefault(name, CONTACT_ERROR)
    return Validation(sub, MappingProxyType(errors))
