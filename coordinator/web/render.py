"""Jinja2 rendering (autoescaped, async) of the server-side pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

TEMPLATES = Path(__file__).parent / "templates"

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    enable_async=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def minutes(value: int | None) -> str:
    if value is None:
        return "—"
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value >= 60 * 48:
        return f"{sign}{value // (60 * 24)} d"
    return f"{sign}{value // 60} h {value % 60:02d} min" if value >= 60 else f"{sign}{value} min"


ENV.filters["when"] = when
ENV.filters["minutes"] = minutes


async def page(name: str, status: int = 200, **context: Any) -> web.Response:
    html = await ENV.get_template(name).render_async(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
