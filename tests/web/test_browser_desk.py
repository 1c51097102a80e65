"""The dashboard in a real Chromium at 1280 and 390 px wide (a phone): no page scrolls
sideways, the menu folds into a <details> without JavaScript and marks the current page,
and the staff desk works end to end: a provider application from the public form shows
in the incoming queue and is acknowledged; a refusal asks first.

Screenshots of every page go to the test's tmp dir (``DSX_SCREENSHOTS=dir`` keeps them
there instead, e.g. a git-ignored ``test-artifacts/``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from yarl import URL

from dsx.web.app import bound_port, start_site
from tests.harness.components import require
from tests.web.conftest import STAFF, seed
from tests.web.test_browser import ARGS, CHROMIUM, HAVE_CHROMIUM, _playwright

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


PAGES = [
    "/dashboard/incoming",
    "/dashboard",
    "/dashboard/proposals",
    "/dashboard/engagements",
    "/dashboard/vetting",
    "/dashboard/members",
    "/dashboard/members/@p1:hs",
    "/dashboard/identities",
    "/dashboard/audit",
    "/dashboard/retention",
    "/dashboard/stats",
    "/dashboard/api-token",
]


async def _fits(page) -> tuple[int, int]:
    return await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


async def test_every_dashboard_page_fits_a_phone_and_a_desktop(web, tmp_path):
    async_playwright = _playwright()
    require(HAVE_CHROMIUM, "Debian chromium is not installed (deploy/setup-test-deps.sh)")
    require(async_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    shots = Path(os.environ.get("DSX_SCREENSHOTS") or tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    ids = await seed(web.coord)
    await web.auth.issue_api_token(STAFF, "a rather long label for a nightly export tool")
    runner = await start_site(web.client.server.app, "127.0.0.1", 0)
    origin = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = await browser.new_context(
                java_script_enabled=False, viewport={"width": 390, "height": 844}
            )
            context.set_default_timeout(15_000)
            page = await context.new_page()

            # A provider application through the public form, as a visitor sends it.
            await page.goto(origin + "/provider")
            await page.fill("#f-name", "Provider Canary")
            await page.fill("#f-matrix", "@prov:example.org")
            await page.fill("#f-country", "MX")
            await page.check('input[name="languages"][value="es"]')
            await page.check('input[name="skills"][value="analysis"]')
            await page.fill("#f-qualifications", "Ten years of trainings with unions.")
            await page.click("button[type=submit]")
            reference = await page.inner_text("#case-ref")
            assert reference.startswith("a-")

            link = URL(await web.auth.create_login_link(STAFF))
            await page.goto(origin + link.path)
            await page.click("#sign-in")
            assert urlsplit(page.url).path == "/dashboard"

            for width in WIDTHS:
                await page.set_viewport_size({"width": width, "height": 900})
                for path in PAGES:
                    await page.goto(origin + path)
                    name = path.strip("/").replace("/", "_").replace("@", "").replace(":", "_")
                    await page.screenshot(path=str(shots / f"{width}-{name}.png"), full_page=True)
                    scroll, inner = await _fits(page)
                    assert scroll <= inner, f"{path} at {width}px: {scroll} > {inner}"
                    current = page.locator('header nav a[aria-current="page"]')
                    if path.startswith("/dashboard/members/"):
                        assert await current.count() == 0  # not a menu entry
                    else:
                        assert await current.count() == 2, path  # the wide and folded menus
                        assert await current.first.get_attribute("href") == path
                # The menu: folded behind a <details> on a phone, in the header on a desktop.
                await page.goto(origin + "/dashboard")
                narrow = page.locator("details.menu-narrow")
                if width == 390:
                    assert await narrow.is_visible()
                    assert not await page.is_visible("details.menu-narrow >> text=Proposals")
                    await page.click("details.menu-narrow summary")
                    assert await page.is_visible("details.menu-narrow >> text=Proposals")
                    # Requests are cards: the table header is not shown.
                    assert not await page.is_visible("#open-requests thead")
                    nowrap = "e => getComputedStyle(e).whiteSpace"
                    assert await page.eval_on_selector("#open-requests td.id", nowrap) == "nowrap"
                    assert await page.is_visible("#open-requests tr[data-request] td >> nth=0")
                else:
                    assert not await narrow.is_visible()
                    assert await page.is_visible(".menu-wide >> text=Proposals")
                    assert await page.is_visible("#open-requests thead")

            # The confirmation page fits a phone too, and a refusal only happens on it.
            await page.set_viewport_size({"width": 390, "height": 900})
            await page.goto(origin + "/dashboard")
            row = f'tr[data-request="{ids["overdue_request"]}"]'
            await page.click(f"{row} >> text=Refuse")
            assert "Nothing has changed yet." in await page.inner_text("main")
            await page.screenshot(path=str(shots / "390-confirm.png"), full_page=True)
            scroll, inner = await _fits(page)
            assert scroll <= inner, f"confirmation page: {scroll} > {inner}"
            await page.select_option("#reason-code", "out_of_mandate")
            await page.click("#confirm")
            assert "Done: refuse" in await page.inner_text("main")

            # The application waits in the incoming queue, counted in the menu.
            await page.goto(origin + "/dashboard/incoming")
            assert "(1 incoming)" in await page.inner_text("details.menu-narrow summary")
            app_row = f'tr[data-reference="{reference}"]'
            assert "provider application" in await page.inner_text(app_row)
            await page.click(f"{app_row} >> text=Acknowledge")
            assert f"{reference} acknowledged." in await page.inner_text("#incoming-notice")
            assert STAFF in await page.inner_text(app_row)
            assert "incoming" not in await page.inner_text("details.menu-narrow summary")
            scroll, inner = await _fits(page)
            assert scroll <= inner
            await context.close()
            await browser.close()
    finally:
        await runner.cleanup()
