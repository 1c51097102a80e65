"""Jinja2 rendering (autoescaped, async) of the server-side pages."""

from __future__ import annotations

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


async def page(name: str, status: int = 200, **context: Any) -> web.Response:
    html = await ENV.get_template(name).render_async(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
