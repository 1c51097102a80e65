"""Jinja2 rendering (autoescaped, async) of the server-side pages."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from coordinator import i18n

TEMPLATES = Path(__file__).parent / "templates"

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    enable_async=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# Newstyle gettext: placeholders are filled by name after translation and escaped.
ENV.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
)


def when(value: datetime | str | None) -> str:
    """The one date format on every page; an ISO string (the audit log's) is read first."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        value = parsed
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def plural(n: int, one: str, many: str) -> str:
    """``1 vouch``, ``2 vouches``, ``0 vouches``: the count and its word, through ngettext
    so a language with other plural rules picks its own form."""
    return i18n.ngettext(f"%(num)d {one}", f"%(num)d {many}", n) % {"num": n}


def noun(n: int, one: str, many: str) -> str:
    """The word alone for a count shown beside it (``accepted member(s)`` no more)."""
    return i18n.ngettext(one, many, n)


def minutes(value: int | None) -> str:
    if value is None:
        return "—"
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value >= 60 * 48:
        return f"{sign}{value // (60 * 24)} d"
    return f"{sign}{value // 60} h {value % 60:02d} min" if value >= 60 else f"{sign}{value} min"


@dataclass(frozen=True)
class Site:
    """What every page shows whoever the visitor is: where the source is, and whom to
    reach in an emergency. Set per request by ``site_context`` (several apps may run in
    one process, each with its own settings)."""

    source_url: str = "/source"
    emergency: Any = field(default=None)


DEFAULT_SITE = Site()
SITE: ContextVar[Site | None] = ContextVar("dsx_site", default=None)


def site() -> Site:
    return SITE.get() or DEFAULT_SITE


@web.middleware
async def site_context(request: web.Request, handler):  # type: ignore[no-untyped-def]
    from dsx.web.security import SETTINGS_KEY

    settings = request.app[SETTINGS_KEY]
    token = SITE.set(Site(settings.source_url, settings.emergency))
    try:
        return await handler(request)
    finally:
        SITE.reset(token)


def translate(message: str) -> str:
    """A message in the reader's language; a form ``Problem`` keeps its plural and values."""
    from coordinator.forms import Problem

    if isinstance(message, Problem):
        text = (
            i18n.ngettext(message.msgid, message.plural, message.n or 0)
            if message.plural is not None
            else i18n.gettext(message.msgid)
        )
        return text % dict(message.params) if message.params else text
    return i18n.gettext(message) if message else message


def choice_label(choice: Any) -> str:
    from coordinator.forms import Shown

    if choice.shown is Shown.LANGUAGE:
        return i18n.language_name(choice.value)
    if choice.shown is Shown.REGION:
        return i18n.region_name(choice.value)
    return translate(choice.label)


def country_shown(value: str) -> str:
    """A stored country code as its name in the reader's language; anything else as typed."""
    from coordinator.forms import COUNTRY_CODES, REMOTE, REMOTE_LABEL

    if value == REMOTE:
        return translate(REMOTE_LABEL)
    return i18n.region_name(value) if value in COUNTRY_CODES else value


def country_options() -> list[tuple[str, str]]:
    """(name in the reader's language, code) for the country list: the U.S. and "remote"
    first, the rest by name."""
    from coordinator.forms import COUNTRY_CODES, REMOTE, _fold

    rest = sorted(
        ((i18n.region_name(c), c) for c in COUNTRY_CODES if c != "US"), key=lambda p: _fold(p[0])
    )
    return [(i18n.region_name("US"), "US"), (country_shown(REMOTE), REMOTE), *rest]


ENV.globals["country_shown"] = country_shown
ENV.globals["country_options"] = country_options
ENV.globals["site"] = site
ENV.globals["lang"] = i18n.current
ENV.globals["languages"] = i18n.switch_choices
ENV.globals["choice_label"] = choice_label
ENV.filters["tr"] = translate
ENV.filters["when"] = when
ENV.filters["minutes"] = minutes
ENV.globals["count"] = plural
ENV.globals["noun"] = noun


async def page(name: str, status: int = 200, **context: Any) -> web.Response:
    html = await ENV.get_template(name).render_async(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
