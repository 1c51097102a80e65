"""The dashboard reads well: every audit action the code writes has a sentence with
links, plurals are right for 0, 1 and 2, each vouching path is listed once, the member
graph's boxes hold their whole labels and no edge crosses a box, and staff keep their
menu on error pages. Pages come from the real app on real SQLite (``web`` fixture)."""

from __future__ import annotations

import ast
import itertools
import random
import re
from pathlib import Path

import pytest
from markupsafe import Markup
from yarl import URL

from coordinator.case_owners import Change
from coordinator.domain import VouchKind
from dsx.web import audit_text, svg
from dsx.web.queries import Edge, Neighbourhood
from dsx.web.render import ENV, plural
from dsx.web.views_staff import named_paths
from partner_bots.workflow import login
from tests.web.conftest import STAFF, seed

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("coordinator", "dsx", "partner_bots")

# Placeholders of f-string actions, by file, and what each stands for (from the code's
# own enums where there is one). A new placeholder fails the test until it is added.
EXPANSIONS = {
    ("coordinator/usecases/members.py", "kind.value"): [k.value for k in VouchKind],
    ("coordinator/case_owners.py", "what.value"): [c.value for c in Change],
    ("dsx/service.py", "kind"): ["trouble", "recovered"],
}


def _strings(node: ast.AST, file: Path, tree: ast.Module) -> list[str]:
    """The actions an argument can name: literals, f-strings, or a variable assigned them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        rel = str(file.relative_to(ROOT))
        out = [""]
        for part in node.values:
            if isinstance(part, ast.Constant):
                out = [o + str(part.value) for o in out]
            else:
                assert isinstance(part, ast.FormattedValue)
                name = ast.unparse(part.value)
                assert (rel, name) in EXPANSIONS, f"{rel}: audit action with {{{name}}}"
                out = [o + v for o in out for v in EXPANSIONS[(rel, name)]]
        return out
    if isinstance(node, ast.IfExp):
        return _strings(node.body, file, tree) + _strings(node.orelse, file, tree)
    if isinstance(node, ast.Name):
        found = [
            s
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)
            for s in _strings(n.value, file, tree)
        ]
        passed_in = any(
            isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.id in {a.arg for a in f.args.args + f.args.kwonlyargs}
            for f in ast.walk(tree)
        )
        # A parameter (``Tx.audit`` itself passing its caller's action on): the callers
        # are scanned instead.
        assert found or passed_in, f"{file}: audit action from {node.id}, not readable"
        return found
    raise AssertionError(f"{file}:{node.lineno}: audit action {ast.unparse(node)} not readable")


def written_actions() -> set[str]:
    """Every action the code can append to the audit log, read from its source."""
    actions: set[str] = set()
    for top in SOURCES:
        for file in (ROOT / top).rglob("*.py"):
            tree = ast.parse(file.read_text())
            for call in ast.walk(tree):
                if not isinstance(call, ast.Call):
                    continue
                f = call.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name == "audit" and isinstance(f, ast.Attribute) and call.args:
                    if len(call.args) >= 2:  # tx.audit(action, subject, **data)
                        actions.update(_strings(call.args[0], file, tree))
                elif name == "AuditRecord" and len(call.args) >= 2:
                    actions.update(_strings(call.args[1], file, tree))
    return actions


def test_every_action_the_code_writes_has_a_sentence():
    actions = written_actions()
    # The scan itself finds what it should (a broken scan must not pass quietly).
    assert {"trust.vouch", "desk.hand_over_refused", "api_token.revoke_refused"} <= actions
    assert {"intake.acknowledge_refused", "audit.anchored", "sync.recovered"} <= actions
    missing = sorted(actions - set(audit_text.RENDERERS))
    assert not missing, f"audit actions without a sentence renderer: {missing}"


@pytest.mark.parametrize("action", sorted(audit_text.RENDERERS))
def test_each_sentence_is_words_with_links_never_python(action):
    data = {
        "partner": "riverside",
        "approvals_needed": ["riverside", "delta"],
        "request": "r-1a2b",
        "provider": "@p1:hs",
        "author": "@p2:hs",
        "to": "delta",
        "reasons": ["no_vouch", "too_few_paths"],
        "cancelled": ["p-1"],
        "rerouted": ["r-2"],
        "cancelled_requests": ["r-3"],
        "closed_engagements": ["e-4"],
        "withdrawn": ["p-5"],
        "kind": "request",
        "rooms": 2,
        "members": 1,
        "proposals": 0,
        "unmatched": 1,
        "count": 2,
        "failures": 3,
        "messages": 1,
        "fields": 1,
    }
    entry = audit_text.Entry("@staff:hs", action, "r-1a2b", data, frozenset({"@staff:hs"}))
    text = audit_text.sentence(entry)
    assert isinstance(text, Markup) and text != audit_text.fallback(entry)
    plain = re.sub(r"<[^>]+>", "", str(text))
    for python in ("[", "{", "=", "':", "('"):
        assert python not in plain, (python, plain)
    assert plain.rstrip().endswith("."), plain
    assert "None" not in plain and "True" not in plain and "False" not in plain


def test_sentences_link_members_requests_and_proposals():
    e = audit_text.Entry(
        "@staff:hs",
        "proposal.created",
        "p-750b9dfd",
        {"request": "r-1", "provider": "@p1:hs", "score": 7, "approvals_needed": ["riverside"]},
        frozenset({"@p1:hs", "riverside"}),
    )
    html = str(audit_text.sentence(e))
    assert (
        'waiting for approval from <a class="mono id" href="/dashboard/members/riverside">' in html
    )
    assert '<a class="mono id" href="/dashboard/members/@p1:hs">@p1:hs</a>' in html
    assert 'href="/dashboard?state=all&amp;q=r-1"' in html
    assert 'href="/dashboard/proposals?state=all&amp;q=p-750b9dfd"' in html
    # The actor is a link only when a member; staff are shown by their id.
    assert '<span class="mono id">@staff:hs</span> proposed' in html


def test_an_unknown_action_still_reads_as_key_value_text_and_is_escaped():
    e = audit_text.Entry("<b>x</b>", "future.thing", "s-1", {"b_count": [1, 2], "a": True})
    html = str(audit_text.sentence(e))
    assert "future.thing on" in html and "a: yes; b count: 1, 2" in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    # A renderer that cannot read an old entry's data falls back instead of failing.
    odd = audit_text.Entry("@s:hs", "routing.batch", "open_requests", {"proposals": "many"})
    assert "proposals: many" in str(audit_text.sentence(odd))


def test_plurals_for_zero_one_and_two():
    assert [plural(n, "vouch", "vouches") for n in (0, 1, 2)] == [
        "0 vouches",
        "1 vouch",
        "2 vouches",
    ]
    tpl = ENV.from_string(
        '{% from "_macros.html" import plural %}'
        '{% for n in (0, 1, 2) %}{{ plural(n, "reference", "references") }};{% endfor %}'
    )
    assert tpl.render(count=plural) == "0 references;1 reference;2 references;"
    for n in (0, 1, 2):
        entry = audit_text.Entry("@s:hs", "routing.batch", "x", {"proposals": n, "unmatched": n})
        text = str(audit_text.sentence(entry))
        assert f"{n} proposal{'' if n == 1 else 's'};" in text
        assert f"{n} request{'' if n == 1 else 's'} unmatched" in text


def test_each_vouching_path_is_listed_once():
    class Explained:
        shortest_path = ("alpha", "m")
        disjoint_paths = (("alpha", "m"), ("beta", "x", "m"), ("beta", "x", "m"))

    assert named_paths(Explained()) == [
        ("Independent path 1 (shortest)", ("alpha", "m")),
        ("Independent path 2", ("beta", "x", "m")),
    ]

    class Apart:
        shortest_path = ("alpha", "m")
        disjoint_paths = (("beta", "x", "m"),)

    assert named_paths(Apart()) == [
        ("Shortest", ("alpha", "m")),
        ("Independent path 1", ("beta", "x", "m")),
    ]
    assert named_paths(None) == []


def _segments(out: str) -> list[tuple[float, float, float, float]]:
    segs = []
    for x1, y1, x2, y2 in re.findall(
        r'<line class="edge[^"]*"[^>]* x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"',
        out,
    ):
        segs.append((float(x1), float(y1), float(x2), float(y2)))
    for pts in re.findall(r'<polyline class="edge[^"]*"[^>]* points="([^"]+)"', out):
        xy = [tuple(map(float, p.split(","))) for p in pts.split()]
        segs += [(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(xy)]
    return segs


def _crosses(seg: tuple[float, float, float, float], box: tuple[float, ...]) -> bool:
    """Whether a segment passes through a box's inside (touching its border is fine)."""
    x, y, w, h = box
    x1, y1, x2, y2 = seg
    for i in range(1, 200):
        t = i / 200
        px, py = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
        if x + 0.5 < px < x + w - 0.5 and y + 0.5 < py < y + h - 0.5:
            return True
    return False


def test_graph_boxes_hold_whole_labels_and_no_edge_crosses_one():
    rnd = random.Random(7)
    names = [f"@member-{i}-{'x' * rnd.randrange(0, 30)}:example.org" for i in range(24)]
    distance = {names[0]: 0} | {n: 1 + i % 3 for i, n in enumerate(names[1:])}
    edges = {(rnd.choice(names), rnd.choice(names)) for _ in range(60)}
    hood = Neighbourhood(
        center=names[0],
        nodes=tuple(names),
        distance=distance,
        edges=tuple(Edge(a, t, "vouch") for a, t in edges if a != t),
        seeds=frozenset(names[1:3]),
    )
    out = svg.render(hood, [names[1:4]])
    boxes = {}
    for member, x, y, w, h, label in re.findall(
        r'<g class="[^"]*" data-member="([^"]+)"><rect x="([\d.]+)" y="([\d.]+)" '
        r'width="([\d.]+)" height="([\d.]+)" rx="4"/><text[^>]*>([^<]*)</text>',
        out,
    ):
        assert label == member  # the whole id, never cut
        assert float(w) >= len(label) * 0.6 * svg.FONT + 2 * svg.PAD - 0.1
        boxes[member] = tuple(map(float, (x, y, w, h)))
    assert set(boxes) == set(names)
    items = list(boxes.values())
    for i, a in enumerate(items):  # boxes never overlap
        for b in items[i + 1 :]:
            apart = a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0]
            assert apart or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
    segments = _segments(out)
    # Same-column and column-skipping edges are in the sample (routed around boxes).
    assert "<polyline" in out and len(segments) > len(hood.edges)
    for seg in segments:
        for box in items:
            assert not _crosses(seg, box), (seg, box)
    width = float(re.search(r'width="(\d+)"', out).group(1))  # type: ignore[union-attr]
    assert all(x + w <= width for x, _, w, _ in items)


def test_the_sign_in_link_is_clickable_and_says_its_lifetime():
    msg = login.link_message("https://dsx.example/login/abc&d", 10)
    assert "valid 10 minutes" in msg["body"] and "few" not in msg["body"]
    assert msg["format"] == "org.matrix.custom.html"
    link = '<a href="https://dsx.example/login/abc&amp;d">https://dsx.example/login/abc&amp;d</a>'
    assert link in msg["formatted_body"]
    assert login.sent(1) == "It works once, for 1 minute; ask again with !dsx login."
    assert "for 10 minutes" in login.sent(10)


async def test_audit_page_shows_sentences_with_links(web):
    await seed(web.coord)
    await web.sign_in()
    page = await (await web.client.get("/dashboard/audit?limit=200")).text()
    rows = re.findall(r'<tr data-seq="\d+" data-action="([^"]+)">(.*?)</tr>', page, re.S)
    assert len(rows) > 10
    for action, row in rows:
        assert action in audit_text.RENDERERS, action
        what = row.split('class="sentence">', 1)[1]
        assert "=[" not in what and "['" not in what and "{'" not in what, what
    vouch = next(r for a, r in rows if a == "trust.vouch")
    assert 'href="/dashboard/members/@p1:hs"' in vouch or 'href="/dashboard/members/o1"' in vouch
    filed = next(r for a, r in rows if a == "request.filed")
    assert 'href="/dashboard?state=all&amp;q=r-' in filed
    assert 'for partner <a class="mono id" href="/dashboard/members/alpha">alpha</a>' in filed
    # The request link finds the request, whatever its state.
    href = re.search(r'href="(/dashboard\?state=all&amp;q=(r-[^"]+))"', filed)
    assert href is not None
    found = await (await web.client.get(href.group(1).replace("&amp;", "&"))).text()
    assert f'data-request="{href.group(2)}"' in found


async def test_plurals_on_the_member_page(web):
    await seed(web.coord)
    await web.sign_in()
    page = await (await web.client.get("/dashboard/members/@p1:hs")).text()
    assert "(s)" not in page and "(es)" not in page
    assert '<span data-count="accepted">0</span> accepted members' in page
    assert "1 vouch or reference received" in page
    partner = await (await web.client.get("/dashboard/members/alpha")).text()
    assert '<span data-count="accepted">2</span> accepted members' in partner
    assert "(s)" not in partner


async def test_staff_keep_their_menu_on_error_pages(web):
    await seed(web.coord)
    public = await web.client.get("/dashboard/members/nobody")
    assert public.status == 401 and "menu-narrow" not in await public.text()
    stray = await web.client.get("/no/such/page")
    assert stray.status == 404 and "menu-narrow" not in await stray.text()
    await web.sign_in()
    for path, status, words in (
        ("/dashboard/members/nobody", 404, "No member with that id."),
        ("/no/such/page", 404, "There is no page at this address."),
        ("/login/expired-or-made-up", 410, "This sign-in link has expired"),
    ):
        resp = await web.client.get(path)
        text = await resp.text()
        assert resp.status == status, path
        assert words in text and 'class="menu-narrow"' in text and "Sign out" in text, path
        assert STAFF in text
    # A used link, opened again by signed-in staff, keeps the menu too.
    link = URL(await web.auth.create_login_link(STAFF))
    await web.auth.redeem(link.path.rsplit("/", 1)[1])
    used = await web.client.get(link.path)
    assert used.status == 410 and 'class="menu-narrow"' in await used.text()
