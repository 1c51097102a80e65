"""The desk's lists in a real Chromium without JavaScript, at 1280 and 390 px wide: the
filter form, a named bad value, the page links and Take all work and nothing scrolls
sideways. Screenshots go to the test's tmp dir (``DSX_SCREENSHOTS=dir`` keeps them
elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from yarl import URL

from dsx.web.app import bound_port, start_site
from tests.harness.components import require
from tests.web.conftest import STAFF, seed
from tests.web.test_browser import ARGS, CHROMIUM, HAVE_CHROMIUM, _playwright
from tests.web.test_find_and_sort import _insert, _rows

pytestmark = pytest.mark.browser

LISTS = [
    "/dashboard?state=all&urgency=critical&sort=-filed",
    "/dashboard?urgency=bogus&older_than=forever&partner=beta",
    "/dashboard/proposals?state=all",
    "/dashboard/engagements",
    "/dashboard/vetting?kind=provider",
    "/dashboard/members?sort=joined",
    "/dashboard/audit?action=trust",
]


async def _fits(page) -> tuple[int, int]:
    return await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


async def test_list_pages_filter_page_and_fit_a_phone_and_a_desktop(web, tmp_path):
    async_playwright = _playwright()
    require(HAVE_CHROMIUM, "Debian chromium is not installed (deploy/setup-test-deps.sh)")
    require(async_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    shots = Path(os.environ.get("DSX_SCREENSHOTS") or tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    await seed(web.coord)
    await _insert(web, _rows(300, seed=3))
    runner = await start_site(web.client.server.app, "127.0.0.1", 0)
    origin = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = await browser.new_context(java_script_enabled=False)
            context.set_default_timeout(15_000)
            page = await context.new_page()
            link = URL(await web.auth.create_login_link(STAFF))
            await page.goto(origin + link.path)
            await page.click("#sign-in")

            for width in (1280, 390):
                await page.set_viewport_size({"width": width, "height": 900})
                for n, path in enumerate(LISTS):
                    await page.goto(origin + path)
                    await page.screenshot(path=str(shots / f"{width}-list-{n}.png"), full_page=True)
                    scroll, inner = await _fits(page)
                    assert scroll <= inner, f"{path} at {width}px: {scroll} > {inner}"
                    assert await page.is_visible("form.filters button[type=submit]")
                bad = await page.goto(origin + LISTS[1])
                assert bad is not None and bad.status == 200
                alerts = page.locator(".problem[role=alert]")
                assert await alerts.count() == 2
                assert "urgency must be one of" in await alerts.first.inner_text()

                # The form, as a person uses it: choose, submit, the URL carries it all.
                await page.goto(origin + "/dashboard")
                form = "#request-filters"
                await page.select_option(f"{form} select[name=state]", "all")
                await page.fill(f"{form} input[name=partner]", "beta")
                await page.select_option(f"{form} select[name=sort]", "-filed")
                await page.click(f"{form} button[type=submit]")
                asked = parse_qs(urlsplit(page.url).query)
                assert asked["partner"] == ["beta"] and asked["sort"] == ["-filed"]
                partners = await page.locator(
                    '#open-requests td[data-label="Partner"]'
                ).all_inner_texts()
                assert partners and set(partners) == {"beta"}
                first = await page.locator("#open-requests tr[data-request]").first.get_attribute(
                    "data-request"
                )
                await page.click("#next-page")
                carried = parse_qs(urlsplit(page.url).query)
                assert carried["partner"] == ["beta"] and "after" in carried
                later = await page.locator("#open-requests tr[data-request]").all()
                assert later and first not in [await r.get_attribute("data-request") for r in later]
                scroll, inner = await _fits(page)
                assert scroll <= inner, f"second page at {width}px"
                await page.screenshot(path=str(shots / f"{width}-list-next.png"), full_page=True)

            # Take a case from the list, without JavaScript; it is then "mine".
            row = page.locator("#open-requests tr[data-request]").first
            taken = await row.get_attribute("data-request")
            await row.locator("button", has_text="Take").click()
            assert "is yours now." in await page.inner_text("main")
            await page.goto(origin + "/dashboard?state=all&owner=mine")
            mine = page.locator("#open-requests tr[data-request]")
            assert (
                await mine.count() == 1 and await mine.first.get_attribute("data-request") == taken
            )
            await page.screenshot(path=str(shots / "390-list-mine.png"), full_page=True)
            await context.close()
            await browser.close()
    finally:
        await runner.cleanup()
