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


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


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


US_OR_UNKNOWN = frozenset({"", "US", "PR", "GU", "VI", "AS", "MP", "REMOTE"})
CONTACT_FIELDS = ("phone", "email", "signal", "matrix")
CONTACT_ERROR = "Give at least one way to reach you: phone, email, Signal or Matrix ID."


def _choices(*pairs: str) -> tuple[Choice, ...]:
    return tuple(Choice(p.split("=")[0], p.split("=")[1]) for p in pairs)


LANGUAGES = _choices(
    "en=English", "es=Spanish", "fr=French", "ar=Arabic", "zh=Chinese", "vi=Vietnamese",
    "ko=Korean", "tl=Tagalog", "ru=Russian", "ht=Haitian Creole", "pt=Portuguese", "fa=Persian",
)  # fmt: skip
COUNTRIES = _choices(
    "US=United States", "REMOTE=Remote, no single location", "CA=Canada", "MX=Mexico",
    "GT=Guatemala", "HN=Honduras", "SV=El Salvador", "PR=Puerto Rico", "BR=Brazil",
    "CO=Colombia", "GB=United Kingdom", "DE=Germany", "NL=Netherlands", "FR=France",
    "IN=India", "PH=Philippines", "NG=Nigeria", "KE=Kenya", "ZA=South Africa",
)  # fmt: skip
URGENCIES = (
    Choice("low", "Low: no deadline"),
    Choice("normal", "Normal: within a week or two"),
    Choice("high", "Urgent: within 24 hours"),
    Choice("critical", "Critical: happening now (also reach us directly: see above)"),
)
AREAS = _choices(
    "communications=Secure communications", "data=Data protection", "hardware=Devices",
    "infrastructure=Websites and infrastructure", "network=Networks",
    "threat-modeling=Threat modeling", "assessment=Security assessment", "travel=Travel",
    "protests=Protests and events",
    "hacked=We were hacked", "doxxed=We were doxxed or harassed", "not-sure=I don't know yet",
)  # fmt: skip
DURATIONS = _choices("one-time=One-time help", "ongoing=Ongoing support", "not-sure=Not sure")
BACKGROUNDS = _choices(
    "trainer=Trainer", "software=Software", "facilitator=Facilitator", "hardware=Hardware",
    "other=Other",
)  # fmt: skip
SKILLS = _choices(
    "analysis=Analysis", "internal-process=Internal process", "securing-systems=Securing systems",
    "physical=Physical security", "social=Social engineering and harassment",
    "digital=Digital hygiene", "development=Development",
)  # fmt: skip

_CONTACTS = (
    FieldSpec("phone", "Phone", Widget.TEL, max_len=40, group="How to reach you"),
    FieldSpec("email", "Email", Widget.EMAIL, max_len=200, group="How to reach you"),
    FieldSpec("signal", "Signal number or username", max_len=80, group="How to reach you"),
    FieldSpec(
        "matrix", "Matrix ID", max_len=200, hint="like @name:server", group="How to reach you"
    ),
    FieldSpec("pgp", "PGP fingerprint (optional)", max_len=120, group="How to reach you"),
)

REQUEST_FORM = FormSchema(
    FormKind.REQUEST,
    "Request assistance",
    "Tell us what you need. Everything you type is encrypted the moment it arrives; a "
    "partner who works with your community will contact you through the channel you choose.",
    (
        FieldSpec("name", "Your name or an alias", required=True, group="About you"),
        FieldSpec("title", "Your role", group="About you"),
        FieldSpec("organization", "Organization", group="About you"),
        FieldSpec("website", "Website", Widget.URL, group="About you"),
        *_CONTACTS,
        FieldSpec("country", "Country", Widget.COUNTRY, required=True, choices=COUNTRIES,
                  hint="Outside the U.S.? We refer you to a global partner.", group="Your need"),
        FieldSpec("languages", "Languages you work in", Widget.CHECKBOXES, required=True,
                  choices=LANGUAGES, group="Your need"),
        FieldSpec("urgency", "How urgent is it?", Widget.RADIO, required=True,
                  choices=URGENCIES, group="Your need"),
        FieldSpec("areas", "Areas of need", Widget.CHECKBOXES, required=True, choices=AREAS,
                  group="Your need"),
        FieldSpec("duration", "Kind of help", Widget.RADIO, choices=DURATIONS, group="Your need"),
        FieldSpec("need", "What is happening, and what would help?", Widget.TEXTAREA,
                  required=True, max_len=4000, group="Your need"),
        FieldSpec("heard", "How did you hear about us? (optional)", max_len=300,
                  group="Your need"),
    ),
)  # fmt: skip

PROVIDER_FORM = FormSchema(
    FormKind.PROVIDER,
    "Become a provider",
    "Volunteer your security skills. You join after an existing member vouches for you or "
    "two organizations you served give references, and you start in a probation pod.",
    (
        FieldSpec("name", "Your name", required=True, group="About you"),
        FieldSpec("organization", "Organization or company (optional)", group="About you"),
        FieldSpec("website", "Website", Widget.URL, group="About you"),
        *_CONTACTS,
        FieldSpec("country", "Country", Widget.COUNTRY, required=True, choices=COUNTRIES,
                  group="Your work"),
        FieldSpec("languages", "Languages you work in", Widget.CHECKBOXES, required=True,
                  choices=LANGUAGES, group="Your work"),
        FieldSpec("background", "Background", Widget.CHECKBOXES, choices=BACKGROUNDS,
                  group="Your work"),
        FieldSpec("skills", "Skills", Widget.CHECKBOXES, required=True, choices=SKILLS,
                  group="Your work"),
        FieldSpec("qualifications", "Experience with vulnerable communities", Widget.TEXTAREA,
                  required=True, max_len=4000, group="Your work"),
        FieldSpec("references", "Who can vouch for you, or two references", Widget.TEXTAREA,
                  max_len=2000, group="Your work"),
    ),
)  # fmt: skip

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


def _check_field(spec: FieldSpec, sub: Submission) -> str | None:
    if spec.widget is Widget.CHECKBOXES:
        picked = sub.selected(spec.name)
        allowed = {c.value for c in spec.choices}
        if any(p not in allowed for p in picked):
            return "Pick from the listed options."
        if spec.required and not picked:
            return "Pick at least one."
        return None
    value = sub.text(spec.name)
    if not value:
        return "This is required." if spec.required else None
    if len(value) > spec.max_len:
        return f"Keep this under {spec.max_len} characters (now {len(value)})."
    if spec.widget is Widget.RADIO and value not in {c.value for c in spec.choices}:
        return "Pick one of the listed options."
    if spec.widget is Widget.COUNTRY and not _COUNTRY.match(value):
        return "Pick a country from the list, or type its two-letter code (like US or MX)."
    if spec.widget is Widget.EMAIL and not _EMAIL.match(value):
        return "This does not look like an email address (name@example.org)."
    if spec.widget is Widget.TEL and not _PHONE.match(value):
        return "Use digits, spaces and + ( ) - only, like +1 555 010 0000."
    if spec.widget is Widget.URL and not _URL.match(value):
        return "Start the address with https:// or http://."
    if spec.name == "matrix" and not _MXID.match(value):
        return "A Matrix ID looks like @name:server.org."
    return None


def validate(schema: FormSchema, form: Mapping[str, object]) -> Validation:
    sub = read(schema, form)
    if sub.text("country"):
        sub = Submission(sub.kind, MappingProxyType({**sub.values, "country": sub.country.upper()}))
    errors: dict[str, str] = {}
    for spec in schema.fields:
        problem = _check_field(spec, sub)
        if problem:
            errors[spec.name] = problem
    if not any(sub.text(name) for name in CONTACT_FIELDS):
        for name in CONTACT_FIELDS:
            errors.setdefault(name, CONTACT_ERROR)
    return Validation(sub, MappingProxyType(errors))
