"""A real headless Chromium (Debian's) walks the site: both forms, the one-time sign-in
link, every dashboard page, a staff action, sign-out; and it never asks another host.

Driven by playwright's Python package against the system browser (``executable_path``);
no browser is downloaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from yarl import URL

from dsx.web.app import bound_port, start_site
from tests.harness.components import require
from tests.web.conftest import STAFF, seed

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _playwright():
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return None
    return async_playwright


async def test_browser_walks_forms_and_dashboard_without_other_hosts(web, tmp_path):
    async_playwright = _playwright()
    require(HAVE_CHROMIUM, "Debian chromium is not installed (deploy/setup-test-deps.sh)")
    require(async_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    await seed(web.coord)
    runner = await start_site(web.client.server.app, "127.0.0.1", 0)
    origin = f"http://127.0.0.1:{bound_port(runner)}"
    requested: list[str] = []
    console: list[str] = []
    try:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=ARGS,
                java_script_enabled=False,  # everything must work without it
            )
            context.set_default_timeout(15_000)
            context.on("request", lambda r: requested.append(r.url))
            page = context.pages[0] if context.pages else await context.new_page()
            page.on("console", lambda m: console.append(m.text))

            # -- request assistance: an error first, then a complete submission --------
            await page.goto(origin + "/")
            await page.click("text=Request assistance")
            await page.fill("#f-name", "Browser Canary")
            await page.fill("#f-need", "Our phones were seized at a protest.")
            await page.click("button[type=submit]")
            assert "Give at least one way to reach you" in await page.inner_text("main")
            assert await page.input_value("#f-need") == "Our phones were seized at a protest."
            assert await page.input_value("#f-name") == "Browser Canary"
            await page.fill("#f-signal", "canary.42")
            await page.fill("#f-country", "US")
            await page.check('input[name="languages"][value="en"]')
            await page.check('input[name="urgency"][value="high"]')
            await page.check('input[name="areas"][value="protests"]')
            await page.click("button[type=submit]")
            request_ref = await page.inner_text("#case-ref")
            assert request_ref.startswith("c-")

            # -- become a provider -----------------------------------------------------
            await page.click("text=Become a provider")
            await page.fill("#f-name", "Provider Canary")
            await page.fill("#f-matrix", "@prov:example.org")
            await page.fill("#f-country", "MX")
            await page.check('input[name="languages"][value="es"]')
            await page.check('input[name="skills"][value="analysis"]')
            await page.fill("#f-qualifications", "Ten years of trainings with unions.")
            await page.click("button[type=submit]")
            assert (await page.inner_text("#case-ref")).startswith("a-")

            # -- sign in through the one-time link -------------------------------------
            link = URL(await web.auth.create_login_link(STAFF))
            await page.goto(origin + link.path)
            await page.click("#sign-in")
            assert urlsplit(page.url).path == "/dashboard"
            assert await page.is_visible("#open-requests")
            cookies = {c["name"]: c for c in await context.cookies(origin)}
            assert cookies["dsx_session"]["httpOnly"] and cookies["dsx_session"]["sameSite"] == (
                "Strict"
            )

            # -- walk every dashboard page through its navigation link -----------------
            expected = {
                "Proposals": "#proposals",
                "Engagements": "#engagements",
                "Vetting": "#vetting",
                "Audit": "#chain",
                "Retention": "#retention",
                "Counts": "#requests-by-state",
                "API token": "text=Create a token",
                "Requests": "#open-requests",
            }
            for label, marker in expected.items():
                await page.click(f"header nav >> text={label}")
                assert await page.is_visible(marker), label
            await page.click("header nav >> text=Audit")
            assert "Chain intact" in await page.inner_text("#chain")
            await page.click("header nav >> text=Retention")
            assert request_ref in await page.inner_text("#retention")

            # -- a member page with its trust neighbourhood ----------------------------
            await page.click("header nav >> text=Proposals")
            await page.click("#proposals a.mono >> nth=0")
            assert await page.is_visible("svg.graph")
            assert await page.locator("svg.graph line.edge.path").count() >= 1

            # -- a staff action through the use case -----------------------------------
            await page.click("header nav >> text=Vetting")
            await page.click(
                'tr[data-member="@p3:hs"] form[action="/dashboard/actions/vet"] button'
            )
            assert "Done: vet" in await page.inner_text("main")

            # -- sign out ----------------------------------------------------------------
            await page.click("#sign-out")
            await page.goto(origin + "/dashboard")
            assert "!dsx login" in await page.inner_text("main")
            # The link was single use.
            await page.goto(origin + link.path)
            assert "expired" in await page.inner_text("main")
            await context.close()
    finally:
        await runner.cleanup()

    assert len(requested) > 20
    assert origin + "/static/dsx.css" in requested  # the page's own assets were seen
    foreign = [u for u in requested if not u.startswith(origin + "/")]
    assert foreign == [], foreign
    assert not [m for m in console if "Content Security Policy" in m], console
