"""Both public forms in a real Chromium without JavaScript, at 1280 and 390 px wide: the
need comes first, the error summary is at the top and focused, each of its links leads to
its field, every field in error is outlined (computed style), nothing scrolls sideways;
a country typed by name in English or Spanish is taken and stored as its code; in Arabic
the summary and the bars mirror.

Screenshots go to the test's tmp dir (``DSX_SCREENSHOTS=dir`` keeps them elsewhere).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from coordinator.forms import CONTACT_FIELDS, PROVIDER_FORM, REQUEST_FORM
from coordinator.sealing import Opener
from coordinator.store.schema import sealed
from coordinator.store.sealed import binding_of
from dsx.web.app import bound_port, start_site
from dsx.web.ratelimit import DEFAULT_LIMITS, Limit, Scope
from tests.harness.components import require
from tests.web.conftest import make_web
from tests.web.test_browser import ARGS, CHROMIUM, HAVE_CHROMIUM, _playwright

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)
BAD = "rgb(164, 22, 26)"  # --bad in dsx.css

# What a field's look is, computed by the browser: the input's border, the field's bar.
LOOK = """e => {
  const s = getComputedStyle(e);
  const f = getComputedStyle(e.closest('.field'));
  return [s.borderTopColor, s.borderTopWidth, f.borderInlineStartColor, f.borderInlineStartWidth];
}"""
IN_VIEW = """e => { const r = e.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight; }"""


async def _fits(page) -> tuple[int, int]:
    return await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


async def _focused(page) -> str:
    """The focused element's id once the page has settled: the browser runs autofocus in
    its first rendering update after load, a moment after the click returns."""
    await page.wait_for_load_state("load")
    for _ in range(50):
        focused = await page.evaluate("document.activeElement.id")
        if focused:
            return focused
        await asyncio.sleep(0.05)
    return ""


async def _field_order(page) -> list[str]:
    names = await page.eval_on_selector_all(
        "form [name]:not([type=hidden])", "els => els.map(e => e.name)"
    )
    return list(dict.fromkeys(names))


async def _walk_errors(page, schema, expected_in_error: set[str], shots: Path, tag: str):
    """Check the error page: summary at the top and focused, its links, every outline."""
    summary = page.locator("#error-summary")
    assert await _focused(page) == "error-summary"
    assert await summary.evaluate(IN_VIEW)
    form_box = await page.locator("form").bounding_box()
    assert (await summary.bounding_box())["y"] < form_box["y"]
    await page.screenshot(path=str(shots / f"{tag}-errors.png"), full_page=True)
    scroll, inner = await _fits(page)
    assert scroll <= inner, f"{tag}: {scroll} > {inner}"

    # Every field in error, and only those, is outlined as the browser draws it.
    in_error = set(
        await page.eval_on_selector_all(
            ".field.has-error", "els => els.map(e => e.id.slice(2, -6))"
        )
    )
    assert in_error == expected_in_error
    for spec in schema.fields:
        target = page.locator(f"#{spec.anchor}")
        color, width, bar, bar_width = await target.evaluate(LOOK)
        if spec.name in in_error:
            assert (bar, bar_width) == (BAD, "4px"), spec.name
            if spec.anchor == f"f-{spec.name}":  # a typed field: its own border too
                assert (color, width) == (BAD, "2px"), spec.name
            assert await target.get_attribute("aria-invalid") == "true", spec.name
        else:
            assert bar != BAD and color != BAD, spec.name
            assert await target.get_attribute("aria-invalid") is None, spec.name

    # Each line of the summary leads to its field: focused, and in view.
    links = summary.locator("a")
    count = await links.count()
    assert count == len(expected_in_error - set(CONTACT_FIELDS)) + bool(
        expected_in_error & set(CONTACT_FIELDS)
    )
    for i in range(count):
        link = links.nth(i)
        anchor = (await link.get_attribute("href")).removeprefix("#")
        await link.click()
        assert await page.evaluate("document.activeElement.id") == anchor
        assert await page.locator(f"#{anchor}").evaluate(IN_VIEW), anchor
        # Its label is in view too (the scroll leaves room above the field).
        label = page.locator(f"#{anchor.removesuffix('-0')}-field :is(label, legend)").first
        assert await label.evaluate(IN_VIEW), anchor


async def _stored_country(web, ref: str) -> str:
    async with web.coord.engine.connect() as conn:
        rows = (await conn.execute(sa.select(sealed).where(sealed.c.owner == ref))).all()
    opened = {r.field: Opener([web.keys]).open_text(r.blob, binding_of(r)) for r in rows}
    return opened["country"]


async def test_forms_help_at_desktop_and_phone_width(sqlite_url, tmp_path):
    # One browser sends a dozen forms: above the per-client limit on purpose.
    limits = {**DEFAULT_LIMITS, Scope.FORMS: Limit(100, 300)}
    async for web in make_web(sqlite_url, tmp_path, limits=limits):
        await _walk(web, tmp_path)


async def _walk(web, tmp_path):
    async_playwright = _playwright()
    require(HAVE_CHROMIUM, "Debian chromium is not installed (deploy/setup-test-deps.sh)")
    require(async_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    shots = Path(os.environ.get("DSX_SCREENSHOTS") or tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    runner = await start_site(web.client.server.app, "127.0.0.1", 0)
    origin = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = await browser.new_context(java_script_enabled=False)
            context.set_default_timeout(15_000)
            page = await context.new_page()
            for width in WIDTHS:
                await page.set_viewport_size({"width": width, "height": 844})

                # -- the request form: the need first, the contact rule before the fields
                await page.goto(origin + "/request?lang=en")
                assert await _field_order(page) == list(REQUEST_FORM.names)
                need = await page.locator("#f-need").bounding_box()
                name = await page.locator("#f-name").bounding_box()
                note = await page.locator("p.note").bounding_box()
                phone = await page.locator("#f-phone").bounding_box()
                assert need["y"] < name["y"] and note["y"] < phone["y"]
                assert "at least one" in await page.inner_text("p.note")
                await page.screenshot(path=str(shots / f"{width}-request.png"), full_page=True)
                scroll, inner = await _fits(page)
                assert scroll <= inner, f"request at {width}px: {scroll} > {inner}"

                # -- sent half-filled: every problem listed at the top and outlined ------
                await page.fill("#f-title", "Coordinator")
                await page.fill("#f-email", "not an address")
                await page.fill("#f-country", "Narnia")
                await page.click("button[type=submit]")
                await _walk_errors(
                    page,
                    REQUEST_FORM,
                    {"need", "urgency", "areas", "country", "languages", "email", "name"},
                    shots,
                    f"{width}-request",
                )
                country_error = await page.inner_text("#f-country-error")
                assert "Narnia" in country_error and "two-letter code" in country_error
                assert await page.input_value("#f-title") == "Coordinator"  # nothing lost

                # -- fixed, with the country by its English name -------------------------
                await page.fill("#f-need", "Our phones were seized at a protest.")
                await page.check("#f-urgency-2")
                await page.check('input[name="areas"][value="protests"]')
                await page.fill("#f-country", "Mexico")
                await page.check('input[name="languages"][value="es"]')
                await page.fill("#f-email", "")
                await page.fill("#f-signal", "canary.42")
                await page.fill("#f-name", "Browser Canary")
                await page.click("button[type=submit]")
                ref = await page.inner_text("#case-ref")
                assert await _stored_country(web, ref) == "MX"

                # -- the provider form, with every contact missing ------------------------
                await page.goto(origin + "/provider?lang=en")
                assert await _field_order(page) == list(PROVIDER_FORM.names)
                await page.screenshot(path=str(shots / f"{width}-provider.png"), full_page=True)
                scroll, inner = await _fits(page)
                assert scroll <= inner, f"provider at {width}px: {scroll} > {inner}"
                await page.fill("#f-name", "Provider Canary")
                await page.click("button[type=submit]")
                await _walk_errors(
                    page,
                    PROVIDER_FORM,
                    {"skills", "qualifications", "languages", "country", *CONTACT_FIELDS},
                    shots,
                    f"{width}-provider",
                )

                # -- in Spanish: the country by its Spanish name -------------------------
                await page.goto(origin + "/provider?lang=es")
                await page.check('input[name="skills"][value="analysis"]')
                await page.fill("#f-qualifications", "Diez años de talleres con sindicatos.")
                await page.check('input[name="languages"][value="es"]')
                await page.fill("#f-country", "alemania")
                await page.fill("#f-name", "")  # one error, to see the country shown back
                await page.fill("#f-matrix", "@prov:example.org")
                await page.click("button[type=submit]")
                assert await _focused(page) == "error-summary"
                assert "Hay que revisar un dato" in await page.inner_text("#error-summary")
                assert await page.input_value("#f-country") == "Alemania"
                await page.screenshot(path=str(shots / f"{width}-provider-es.png"), full_page=True)
                await page.fill("#f-name", "Proveedora Canaria")
                await page.click("button[type=submit]")
                ref = await page.inner_text("#case-ref")
                assert await _stored_country(web, ref) == "DE"

                # -- right to left: the summary and the bars mirror, nothing overflows ---
                await page.goto(origin + "/request?lang=ar")
                await page.click("button[type=submit]")
                assert await _focused(page) == "error-summary"
                bar = "e => getComputedStyle(e.closest('.field')).borderRightColor"
                assert await page.locator("#f-need").evaluate(bar) == BAD
                await page.screenshot(path=str(shots / f"{width}-request-ar.png"), full_page=True)
                scroll, inner = await _fits(page)
                assert scroll <= inner, f"Arabic request at {width}px: {scroll} > {inner}"
            await browser.close()
    finally:
        await runner.cleanup()
