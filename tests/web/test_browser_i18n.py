"""The public form in Spanish and in Arabic in a real headless Chromium (Debian's),
JavaScript off: the browser's own language picks Spanish, no English is left on the page
outside what the person typed and proper names, the switch turns the page right-to-left
and mirrors it, and the choice survives the form's steps. Screenshots are kept under
``test-artifacts/i18n/`` (git-ignored) for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from dsx.web.app import bound_port, start_site
from tests.harness.components import require
from tests.web.test_browser import ARGS, CHROMIUM, HAVE_CHROMIUM, _playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "i18n"
PROPER_NAMES = ("Digital Security Exchange", "DSX", "Signal", "Matrix", "GNU AGPL", "PGP")
ENGLISH_WORDS = re.compile(
    r"\b(the|your|you|and|with|what|please|send|request|required|help|how|who|we)\b", re.I
)


def _english_fragments() -> list[str]:
    """Every English msgid (its text between markup and placeholders) whose Spanish
    translation differs: none of them may show on a Spanish page."""
    with (ROOT / "coordinator/locale/es/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="es")
    out = []
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if ids[0] in strings:
            continue  # the same word in Spanish (Software, Hardware)
        for msgid in ids:
            for part in re.split(r"<[^>]+>|%\(\w+\)[sd]", msgid):
                part = part.strip(" .:;,()")
                if len(part) >= 4:
                    out.append(part)
    return out


def _leftover_english(text: str) -> list[str]:
    for name in PROPER_NAMES:
        text = text.replace(name, "")
    found = [f for f in _english_fragments() if f in text]
    found += ENGLISH_WORDS.findall(text)
    return found


async def test_public_form_in_spanish_and_arabic_in_chromium(web, tmp_path):
    async_playwright = _playwright()
    require(HAVE_CHROMIUM, "Debian chromium is not installed (deploy/setup-test-deps.sh)")
    require(async_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    runner = await start_site(web.client.server.app, "127.0.0.1", 0)
    origin = f"http://127.0.0.1:{bound_port(runner)}"
    requested: list[str] = []
    try:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=ARGS,
                java_script_enabled=False,
                locale="es-MX",  # the browser's Accept-Language
                viewport={"width": 1000, "height": 900},
            )
            context.set_default_timeout(15_000)
            context.on("request", lambda r: requested.append(r.url))
            page = context.pages[0] if context.pages else await context.new_page()

            # -- negotiated from the browser: Spanish, no English left ---------------
            await page.goto(origin + "/")
            assert await page.get_attribute("html", "lang") == "es"
            assert _leftover_english(await page.inner_text("body")) == []
            await page.click("text=Solicitar ayuda")
            assert await page.get_attribute("html", "dir") == "ltr"
            await page.screenshot(path=str(ARTIFACTS / "request-es.png"), full_page=True)
            assert _leftover_english(await page.inner_text("body")) == []
            assert await page.is_visible("text=chino (simplificado)")

            # -- an error re-render stays Spanish, nothing typed lost -----------------
            await page.fill("#f-name", "Ana Canaria")
            await page.fill("#f-need", "Nos quitaron los teléfonos en una marcha.")
            await page.click("button[type=submit]")
            main = await page.inner_text("main")
            assert "Indíquenos al menos una forma de contactarle" in main
            assert await page.input_value("#f-name") == "Ana Canaria"
            await page.screenshot(path=str(ARTIFACTS / "request-es-errors.png"), full_page=True)
            assert _leftover_english(await page.inner_text("body")) == []

            # -- sent: the thanks page is Spanish, the reference isolated -------------
            await page.fill("#f-signal", "ana.42")
            await page.fill("#f-country", "US")
            await page.check('input[name="languages"][value="es"]')
            await page.check('input[name="urgency"][value="high"]')
            await page.check('input[name="areas"][value="protests"]')
            await page.click("button[type=submit]")
            assert (await page.inner_text("#case-ref")).startswith("c-")
            assert await page.eval_on_selector("#case-ref", "e => e.parentElement.tagName") == (
                "BDI"
            )
            assert "Su número de caso es" in await page.inner_text("main")
            assert _leftover_english(await page.inner_text("body")) == []

            # -- the switch: Arabic, right to left, mirrored, and remembered ----------
            await page.click('#language-switch a[hreflang="ar"]')
            assert await page.get_attribute("html", "lang") == "ar"
            assert await page.get_attribute("html", "dir") == "rtl"
            assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"
            brand = await page.locator("header .brand").bounding_box()
            switch = await page.locator("#language-switch").bounding_box()
            assert brand["x"] > switch["x"]  # the brand starts on the right
            label = await page.locator('label[for="f-name"]').bounding_box()
            field = await page.locator("#f-name").bounding_box()
            assert abs((label["x"] + label["width"]) - (field["x"] + field["width"])) < 2
            await page.screenshot(path=str(ARTIFACTS / "request-ar.png"), full_page=True)
            cookies = {c["name"]: c for c in await context.cookies(origin)}
            assert cookies["dsx_lang"]["value"] == "ar"
            assert cookies["dsx_lang"]["sameSite"] == "Lax"

            # A plain link (no ?lang) still comes back in Arabic: the cookie holds it.
            await page.goto(origin + "/request")
            assert await page.get_attribute("html", "dir") == "rtl"
            await page.fill("#f-name", "Ana ناشطة 42")
            await page.click("button[type=submit]")
            assert await page.get_attribute("html", "lang") == "ar"
            assert await page.input_value("#f-name") == "Ana ناشطة 42"
            assert await page.get_attribute("#f-name", "dir") == "auto"
            assert "هذا الحقل مطلوب." in await page.inner_text("main")
            # Untranslated Arabic messages fall back to English, never blank.
            assert (await page.inner_text('label[for="f-organization"]')).strip(
                " \u2066\u2069"
            ) == "Organization"
            await page.screenshot(path=str(ARTIFACTS / "request-ar-errors.png"), full_page=True)
            await context.close()
    finally:
        await runner.cleanup()

    for shot in ("request-es.png", "request-es-errors.png", "request-ar.png"):
        assert (ARTIFACTS / shot).stat().st_size > 10_000, shot
    foreign = [u for u in requested if not u.startswith(origin + "/")]
    assert foreign == [], foreign
