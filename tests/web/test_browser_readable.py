"""Every staff page in a real Chromium (no JavaScript in the pages) at 1280 and 390 px:
no page scrolls sideways, no timestamp or id breaks across lines (measured from the laid
out text), and the member graph's labels are whole inside their boxes with no edge
through a box (measured from the rendered SVG's geometry). Screenshots go to the test's
tmp dir (``DSX_SCREENSHOTS=dir`` keeps them elsewhere)."""

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
from tests.web.test_browser_desk import PAGES

pytestmark = pytest.mark.browser

LONG = "@adv-quintela:localhost.example.org"
MORE = ("@adv-oyelaran-okafor:localhost.example.org", "@helpline-responder-7:hs.example")
EXTRA = [
    f"/dashboard/members/{LONG}",
    "/dashboard/members/alpha",
    "/dashboard/members/no-such-member",  # the staff 404
    "/dashboard/audit?limit=200",
    "/dashboard?state=all",
]

# Text nodes that must stay on one line: every timestamp, every id.
ONE_LINE = r"""() => {
  const when = /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/;
  const id = /^([a-z]-[0-9a-f]{6,}|@[^\s]+:[^\s]+)$/;
  const bad = [];
  let checked = 0;
  const walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    if (!when.test(text) && !id.test(text)) continue;
    if (n.parentElement.closest("svg, option, select, textarea")) continue;
    const r = document.createRange();
    r.selectNodeContents(n);
    const rects = [...r.getClientRects()].filter(x => x.width > 0);
    const tops = new Set(rects.map(x => Math.round(x.top)));
    checked++;
    if (tops.size > 1) bad.push(text);
  }
  return [checked, bad];
}"""

# The graph: whole labels inside their boxes; no edge segment through a box.
GRAPH = r"""() => {
  const svg = document.querySelector("svg.graph");
  if (!svg) return null;
  const boxes = [...svg.querySelectorAll("g.node")].map(g => {
    const r = g.querySelector("rect").getBBox(), t = g.querySelector("text");
    return {id: g.dataset.member, r, t: t.getBBox(), len: t.getComputedTextLength(),
            label: t.textContent, chars: t.getNumberOfChars()};
  });
  const bad = [];
  for (const b of boxes) {
    if (b.label !== b.id) bad.push(["label cut", b.id, b.label]);
    if (b.t.x < b.r.x || b.t.x + b.len > b.r.x + b.r.width || b.t.y < b.r.y - 1 ||
        b.t.y + b.t.height > b.r.y + b.r.height + 1) bad.push(["label outside box", b.id]);
  }
  const segs = [];
  for (const e of svg.querySelectorAll(".edge")) {
    if (e.tagName === "line") {
      const a = n => +e.getAttribute(n);
      segs.push([a("x1"), a("y1"), a("x2"), a("y2")]);
    } else {
      const p = [...e.points];
      for (let i = 1; i < p.length; i++) segs.push([p[i-1].x, p[i-1].y, p[i].x, p[i].y]);
    }
  }
  for (const [x1, y1, x2, y2] of segs) for (const b of boxes) {
    const {x, y, width: w, height: h} = b.r;
    for (let i = 1; i < 100; i++) {
      const t = i / 100, px = x1 + (x2 - x1) * t, py = y1 + (y2 - y1) * t;
      if (px > x + .5 && px < x + w - .5 && py > y + .5 && py < y + h - .5) {
        bad.push(["edge through box", b.id]); break;
      }
    }
  }
  const fontPx = parseFloat(getComputedStyle(svg.querySelector("text")).fontSize);
  const routed = svg.querySelectorAll("polyline.edge").length;
  return {boxes: boxes.length, segments: segs.length, routed, bad, fontPx};
}"""


async def _fits(page) -> tuple[int, int]:
    return await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


WIDE = """() => [...document.querySelectorAll("main *")]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter(e => !e.closest("figure.graph-box, h1.mono"))
  .slice(0, 5).map(e => e.tagName + "." + e.className + ": " + e.textContent.slice(0, 60))"""


async def _long_members(web) -> None:
    """Members with long ids, vouched for by both partners."""
    c = web.coord
    for m in (LONG, *MORE):
        await c.add_provider(m, ["forensics"], ["en"], ["US-CA"], capacity=2)
    await c.vouch("alpha", LONG)
    await c.vouch("alpha", MORE[0])
    await c.vouch("beta", MORE[1])
    for m in (LONG, *MORE):
        await c.vet(m)
    await c.vouch("beta", LONG)
    # In @p1's picture beta and the long ids sit in one column (both two hops away): the
    # edge between them is routed around the boxes.
    await c.vouch("alpha", "beta")


async def test_staff_pages_read_whole_on_a_phone_and_a_desktop(web, tmp_path):
    async_playwright = _playwright()
    require(HAVE_CHROMIUM, "Debian chromium is not installed (deploy/setup-test-deps.sh)")
    require(async_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    shots = Path(os.environ.get("DSX_SCREENSHOTS") or tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    await seed(web.coord)
    await _long_members(web)
    await web.auth.issue_api_token(STAFF, "nightly export")
    runner = await start_site(web.client.server.app, "127.0.0.1", 0)
    origin = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = await browser.new_context(
                java_script_enabled=False, viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(15_000)
            page = await context.new_page()
            link = URL(await web.auth.create_login_link(STAFF))
            await page.goto(origin + link.path)
            await page.click("#sign-in")
            assert urlsplit(page.url).path == "/dashboard"
            checked_total = 0
            for width in (1280, 390):
                await page.set_viewport_size({"width": width, "height": 900})
                for path in [*PAGES, *EXTRA]:
                    resp = await page.goto(origin + path)
                    assert resp is not None
                    name = (
                        path.strip("/").replace("/", "_").replace("@", "").replace(":", "_")
                    ).replace("?", "_")
                    await page.screenshot(path=str(shots / f"{width}-{name}.png"), full_page=True)
                    scroll, inner = await _fits(page)
                    wide = await page.evaluate(WIDE) if scroll > inner else []
                    assert scroll <= inner, f"{path} at {width}px: {scroll} > {inner} {wide}"
                    # The staff menu is there on every page, the 404 included.
                    assert await page.locator("#sign-out").count() == 1, path
                    checked, wrapped = await page.evaluate(ONE_LINE)
                    assert not wrapped, f"{path} at {width}px: wrapped {wrapped[:5]}"
                    checked_total += checked
                    if path.startswith("/dashboard/members/") and resp.status == 200:
                        graph = await page.evaluate(GRAPH)
                        assert graph is not None and graph["boxes"] >= 3, path
                        assert graph["segments"] >= 2, path
                        if path == "/dashboard/members/@p1:hs":
                            assert graph["routed"] >= 1, graph
                        assert not graph["bad"], f"{path} at {width}px: {graph['bad'][:5]}"
                        # Readable on a phone too: the picture scrolls in its frame
                        # instead of shrinking its 12 px labels.
                        size = await page.eval_on_selector(
                            "svg.graph text", "t => t.getBoundingClientRect().height"
                        )
                        assert size >= 10, (path, width, size)
                    if "no-such-member" in path:
                        assert resp.status == 404
                        assert "No member with that id." in await page.inner_text("main")
                # Requests are cards on a phone, a table on a desktop.
                await page.goto(origin + "/dashboard")
                header_shown = await page.is_visible("#open-requests thead")
                assert header_shown == (width == 1280)
            assert checked_total > 100  # timestamps and ids were found and measured
            # The long member's graph: its id is whole in the picture, not "…"-cut.
            await page.goto(origin + f"/dashboard/members/{LONG}")
            labels = await page.eval_on_selector_all(
                "svg.graph text", "ts => ts.map(t => t.textContent)"
            )
            assert LONG in labels and not any("…" in t for t in labels)
            # Audit sentences link to members and requests.
            await page.goto(origin + "/dashboard/audit?limit=200")
            sentence = page.locator('tr[data-action="trust.vouch"] td.sentence a').first
            assert (await sentence.get_attribute("href") or "").startswith("/dashboard/members/")
            await sentence.click()
            assert urlsplit(page.url).path.startswith("/dashboard/members/")
            await context.close()
            await browser.close()
    finally:
        await runner.cleanup()
