"""Who gets which language on the public pages, over HTTP against the real app and its
store: ``Accept-Language``, the ``?lang=`` switch and its cookie kept across the form's
steps (error re-render, thanks page), right-to-left Arabic, and a Spanish submission that
arrives sealed like any other. The dashboard stays English."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from coordinator.config import EmergencyConfig
from coordinator.forms import REQUEST_FORM, FormKind
from coordinator.sealing import Opener
from coordinator.store.schema import sealed
from coordinator.store.sealed import binding_of
from partner_bots.workflow.intake import render
from tests.web.conftest import make_web
from tests.web.forms_data import CANARY, full_form

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _html_tag(page: str) -> str:
    return re.search(r"<html[^>]*>", page).group(0)


async def _get(web, path: str, **headers: str):
    resp = await web.client.get(path, headers=headers)
    return resp, await resp.text()


async def _token(page: str) -> str:
    return CSRF_RE.search(page).group(1)


async def test_accept_language_picks_spanish_and_arabic_and_defaults_to_english(web):
    resp, page = await _get(web, "/", **{"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    assert '<html lang="es" dir="ltr">' in page
    assert "Solicitar ayuda" in page and "Request assistance" not in page
    assert "Accept-Language" in resp.headers.get("Vary", "")
    assert "dsx_lang" not in resp.cookies  # negotiated, not chosen: nothing stored

    _, page = await _get(web, "/request", **{"Accept-Language": "fr, ar;q=0.4"})
    assert '<html lang="ar" dir="rtl">' in _html_tag(page)
    assert "طلب المساعدة" in page
    # Partial catalog: what Arabic lacks shows in English, never blank.
    assert ">\u2066Organization\u2069</label>" in page  # isolated as left-to-right text

    _, page = await _get(web, "/provider", **{"Accept-Language": "de-DE, de;q=0.9"})
    assert '<html lang="en" dir="ltr">' in page and "Become a provider" in page


async def test_every_public_page_has_the_switch_and_the_dashboard_stays_english(web):
    for path in ("/", "/request", "/provider", "/no-such-page"):
        _, page = await _get(web, path)
        switch = re.search(r'<nav class="langs" id="language-switch".*?</nav>', page, re.S)
        assert switch, path
        for tag in ("en", "es", "ar"):
            assert f'href="?lang={tag}"' in switch.group(0), (path, tag)
        assert 'lang="ar" dir="rtl">العربية</a>' in switch.group(0)
    await web.client.get("/?lang=es")
    _, page = await _get(web, "/dashboard", **{"Accept-Language": "es"})
    assert '<html lang="en" dir="ltr">' in page and 'id="language-switch"' not in page


async def test_switch_sets_a_lax_cookie_kept_across_errors_and_the_thanks_page(web):
    resp, page = await _get(web, "/request?lang=es", **{"Accept-Language": "en"})
    cookie = resp.cookies["dsx_lang"]
    assert cookie.value == "es" and cookie["samesite"] == "Lax" and cookie["httponly"]
    assert '<html lang="es" dir="ltr">' in page
    assert 'action="/request?lang=es"' in page  # the choice rides along with the post

    # Next visit: no query, an English browser; the cookie decides.
    _, page = await _get(web, "/request", **{"Accept-Language": "en"})
    assert '<html lang="es"' in page and "Cuéntenos qué necesita" in page
    token = await _token(page)

    # A post with errors (to the plain path: the cookie alone) re-renders in Spanish.
    pairs = full_form(REQUEST_FORM, name="", need="x" * 4001, languages=[])
    resp = await web.client.post(
        "/request", data=[("csrf_token", token), *pairs], headers={"Accept-Language": "en"}
    )
    page = await resp.text()
    assert resp.status == 400 and '<html lang="es"' in page
    assert "Hay que revisar 3 datos." in page
    assert 'id="f-name-error">Este dato es obligatorio.</p>' in page
    assert "Use como máximo 4000 caracteres (ahora hay 4001)." in page
    assert "Elija al menos una opción." in page
    assert html.escape(f"{CANARY} organization text") in page  # nothing typed lost

    # Fixed and sent again: the thanks page is Spanish too.
    pairs = full_form(REQUEST_FORM, languages=["es", "zh-Hans"])
    resp = await web.client.post(
        "/request", data=[("csrf_token", token), *pairs], headers={"Accept-Language": "en"}
    )
    page = await resp.text()
    assert resp.status == 200, page
    assert '<html lang="es"' in page and "Su número de caso es" in page
    ref = re.search(r'id="case-ref">([^<]+)<', page).group(1)

    # It arrived like any other submission: sealed, the language tags as posted.
    async with web.coord.engine.connect() as conn:
        rows = (await conn.execute(sa.select(sealed).where(sealed.c.owner == ref))).all()
    opened = {r.field: Opener([web.keys]).open_text(r.blob, binding_of(r)) for r in rows}
    assert opened["languages"] == "es, zh-Hans"
    assert opened["name"] == f"{CANARY} name text"


async def test_one_field_error_uses_the_singular_and_errors_page_is_translated(web):
    _, page = await _get(web, "/request?lang=es")
    pairs = full_form(REQUEST_FORM, email="no-es-un-correo")
    resp = await web.client.post("/request", data=[("csrf_token", await _token(page)), *pairs])
    page = await resp.text()
    assert "Hay que revisar un dato." in page
    assert "Esto no parece una dirección de correo electrónico" in page
    resp, page = await _get(web, "/no-such-page")
    assert resp.status == 404 and "Página no encontrada" in page and '<html lang="es"' in page


async def test_a_language_choice_without_cookies_still_holds_through_the_post(web):
    """Where cookies are refused the form's action carries the choice."""
    _, page = await _get(web, "/provider?lang=ar")
    assert 'action="/provider?lang=ar"' in page
    token = await _token(page)
    # Only the language cookie is refused (the CSRF cookie is needed to post at all).
    web.client.session.cookie_jar.clear(lambda c: c.key == "dsx_lang")
    assert "dsx_lang" not in {c.key for c in web.client.session.cookie_jar}
    resp = await web.client.post("/provider?lang=ar", data=[("csrf_token", token), ("name", "")])
    page = await resp.text()
    assert resp.status == 400 and '<html lang="ar" dir="rtl">' in page
    assert "هذا الحقل مطلوب." in page


async def test_an_unknown_language_choice_is_ignored_and_sets_nothing(web):
    resp, page = await _get(web, "/?lang=%3Cscript%3E", **{"Accept-Language": "es"})
    assert "dsx_lang" not in resp.cookies and '<html lang="es"' in page
    assert "<script>" not in page


def test_partner_room_shows_english_names_whatever_language_the_form_was_in():
    """The delivered details are for the partner: language and country values stay BCP 47
    tags and codes in the store, and are named in English in the room."""
    fields = {"name": "Ana", "languages": "es, zh-Hans, fil, mis", "country": "MX"}
    body = render("c-0123456789", FormKind.REQUEST, fields)["body"]
    assert "Spanish, Chinese (Simplified), Tagalog, Another language" in body
    assert "Country: Mexico" in body


async def test_only_pages_vary_by_language(web):
    resp = await web.client.get("/static/dsx.css", headers={"Accept-Language": "es"})
    assert resp.status == 200 and "Accept-Language" not in resp.headers.get("Vary", "")
    resp = await web.client.get("/request", headers={"Accept-Language": "es"})
    assert "Accept-Language" in resp.headers.get("Vary", "")


async def test_emergency_contact_in_spanish_and_arabic_keeps_values_isolated(sqlite_url, tmp_path):
    contact = EmergencyConfig(signal="+1 555 0199", phone="+1 555 0123", hours="8-22 ET")
    async for w in make_web(sqlite_url, tmp_path, emergency=contact):
        _, page = await _get(w, "/request?lang=es")
        box = page[page.index('id="emergency"') : page.index("</aside>")]
        assert "Si está pasando ahora mismo" in box
        assert "Teléfono: <strong><bdi>+1 555 0123</bdi></strong>" in box
        assert "Horario de atención: <bdi>8-22 ET</bdi>." in box
        _, page = await _get(w, "/request?lang=ar")
        box = page[page.index('id="emergency"') : page.index("</aside>")]
        assert "إذا كان يحدث الآن" in box and "<bdi>+1 555 0199</bdi>" in box
