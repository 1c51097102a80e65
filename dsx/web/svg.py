"""A member's trust neighbourhood as a server-rendered SVG (no script, no inline style).

Nodes sit on rings by their distance from the member; edges on the vouching paths
are drawn last and marked ``path`` so the stylesheet highlights them. Every label is
XML-escaped: member ids come from users.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

from dsx.web.queries import Neighbourhood

SIZE = 640
RING = 110
RADIUS = 9


def _size(hood: Neighbourhood) -> int:
    """Just big enough for the outermost ring and its labels."""
    depth = max((hood.distance[n] for n in hood.nodes), default=0)
    return min(SIZE, max(320, 2 * RING * depth + 220))


def _positions(hood: Neighbourhood, size: int) -> dict[str, tuple[float, float]]:
    rings: dict[int, list[str]] = {}
    for node in hood.nodes:
        rings.setdefault(hood.distance[node], []).append(node)
    c = size / 2
    pos: dict[str, tuple[float, float]] = {}
    for depth, members in rings.items():
        if depth == 0:
            for m in members:
                pos[m] = (c, c)
            continue
        r = min(RING * depth, c - 90)
        offset = depth * 0.35
        for i, m in enumerate(members):
            angle = offset + 2 * math.pi * i / len(members)
            pos[m] = (c + r * math.cos(angle), c + r * math.sin(angle))
    return pos


def path_edges(paths: Iterable[Iterable[str]]) -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for path in paths:
        hops = list(path)
        out.update(itertools.pairwise(hops))
    return frozenset(out)


def _label(member: str) -> str:
    return member if len(member) <= 22 else member[:20] + "…"


def render(hood: Neighbourhood, paths: Iterable[Iterable[str]]) -> str:
    highlighted = path_edges(paths)
    on_path = {m for edge in highlighted for m in edge}
    size = _size(hood)
    pos = _positions(hood, size)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}" role="img" aria-labelledby="graph-title">',
        f'<title id="graph-title">Trust neighbourhood of {escape(hood.center)}</title>',
    ]
    ordered = sorted(hood.edges, key=lambda e: (e.author, e.target) in highlighted)
    for edge in ordered:
        if edge.author not in pos or edge.target not in pos:
            continue
        (x1, y1), (x2, y2) = pos[edge.author], pos[edge.target]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        tx, ty = x2 - ux * (RADIUS + 2), y2 - uy * (RADIUS + 2)
        cls = "edge path" if (edge.author, edge.target) in highlighted else "edge"
        dash = ' stroke-dasharray="4 3"' if edge.kind == "reference" else ""
        parts.append(
            f'<line class="{cls}" data-from={quoteattr(edge.author)} '
            f'data-to={quoteattr(edge.target)} x1="{x1:.1f}" y1="{y1:.1f}" '
            f'x2="{tx:.1f}" y2="{ty:.1f}"{dash}/>'
        )
        # Arrowhead: a small triangle at the target end.
        px, py = -uy * 4, ux * 4
        arrow_cls = "arrow path" if cls == "edge path" else "arrow"
        parts.append(
            f'<polygon class="{arrow_cls}" points="{tx:.1f},{ty:.1f} '
            f"{tx - ux * 8 + px:.1f},{ty - uy * 8 + py:.1f} "
            f'{tx - ux * 8 - px:.1f},{ty - uy * 8 - py:.1f}"/>'
        )
    for node in hood.nodes:
        x, y = pos[node]
        classes = ["node"]
        if node == hood.center:
            classes.append("focus")
        if node in hood.seeds:
            classes.append("seed")
        if node in on_path:
            classes.append("on-path")
        parts.append(
            f'<g class="{" ".join(classes)}" data-member={quoteattr(node)}>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS}"/>'
            f'<text x="{x + RADIUS + 3:.1f}" y="{y + 4:.1f}">{escape(_label(node))}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
