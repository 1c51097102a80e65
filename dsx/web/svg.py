"""A member's trust neighbourhood as a server-rendered SVG (no script, no inline style).

Members sit in columns by their distance from the member (the member on the left), each
as a box wide enough for its whole id in a monospace font, so no label is cut. Edges
never cross a box: one between neighbouring columns is a straight line across the gap
between them; any other runs along the gaps and the free band above the boxes. Edges on
the vouching paths are drawn last and marked ``path`` so the stylesheet highlights
them. Every label is XML-escaped: member ids come from users.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from dsx.web.queries import Neighbourhood

FONT = 12  # px, monospace (static/dsx.css: svg.graph text)
CHAR = 0.62 * FONT  # a monospace advance (0.6 em) with room to spare
PAD = 8  # between a box's border and its label
BOX_H = 22
PITCH = 32  # from one box's top to the next one's in a column
GAP = 72  # between columns: the lanes edges run in
MARGIN = 16
LANE = 4  # between routed edges running side by side


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float = BOX_H

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def right(self) -> float:
        return self.x + self.w


def path_edges(paths: Iterable[Iterable[str]]) -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for path in paths:
        hops = list(path)
        out.update(itertools.pairwise(hops))
    return frozenset(out)


def label_width(member: str) -> float:
    return len(member) * CHAR + 2 * PAD


def _columns(hood: Neighbourhood) -> list[list[str]]:
    """Members by distance, each column ordered by where its neighbours sit in the one
    before it (fewer crossings), then by id."""
    by_depth: dict[int, list[str]] = {}
    for node in hood.nodes:
        by_depth.setdefault(hood.distance[node], []).append(node)
    near: dict[str, set[str]] = {n: set() for n in hood.nodes}
    for e in hood.edges:
        if e.author in near and e.target in near:
            near[e.author].add(e.target)
            near[e.target].add(e.author)
    columns: list[list[str]] = []
    rank: dict[str, int] = {}
    for depth in sorted(by_depth):

        def weight(m: str) -> tuple[float, str]:
            seen = [rank[n] for n in near[m] if n in rank]
            return (sum(seen) / len(seen) if seen else float("inf"), m)

        column = sorted(by_depth[depth], key=weight)
        rank.update({m: i for i, m in enumerate(column)})
        columns.append(column)
    return columns


def layout(hood: Neighbourhood, routed: int) -> tuple[dict[str, Box], int, int, float]:
    """Boxes for every member, the picture's width and height, and the y of the band
    above the boxes that routed edges use (``routed`` of them, side by side)."""
    columns = _columns(hood)
    tallest = max((len(c) for c in columns), default=1)
    top = MARGIN + LANE * (routed + 1)
    boxes: dict[str, Box] = {}
    x = float(MARGIN)
    for column in columns:
        width = max(label_width(m) for m in column)
        offset = (tallest - len(column)) * PITCH / 2
        for i, m in enumerate(column):
            boxes[m] = Box(x, top + offset + i * PITCH, width)
        x += width + GAP
    width = int(x - GAP + GAP + MARGIN)  # a last lane on the right for same-column edges
    height = int(top + tallest * PITCH - (PITCH - BOX_H) + MARGIN)
    return boxes, width, height, float(MARGIN)


def _column_of(hood: Neighbourhood) -> dict[str, int]:
    order = sorted({hood.distance[n] for n in hood.nodes})
    index = {d: i for i, d in enumerate(order)}
    return {n: index[hood.distance[n]] for n in hood.nodes}


def route(
    a: Box, b: Box, col_a: int, col_b: int, lane: int, band: float
) -> list[tuple[float, float]]:
    """The points of an edge from box ``a`` to box ``b``, none inside any box."""
    if col_b == col_a + 1:
        return [(a.right, a.cy), (b.x, b.cy)]
    if col_b == col_a - 1:
        return [(a.x, a.cy), (b.right, b.cy)]
    off = LANE * (lane % max(1, int(GAP / 2 / LANE) - 1) + 2)
    if col_a == col_b:
        out = a.right + off
        return [(a.right, a.cy), (out, a.cy), (out, b.cy), (b.right, b.cy)]
    y = band + LANE * lane
    if col_b > col_a:
        start, end = a.right + off, b.x - off
        return [(a.right, a.cy), (start, a.cy), (start, y), (end, y), (end, b.cy), (b.x, b.cy)]
    start, end = a.x - off, b.right + off
    return [(a.x, a.cy), (start, a.cy), (start, y), (end, y), (end, b.cy), (b.right, b.cy)]


def render(hood: Neighbourhood, paths: Iterable[Iterable[str]]) -> str:
    highlighted = path_edges(paths)
    on_path = {m for edge in highlighted for m in edge}
    col = _column_of(hood)
    edges = [e for e in hood.edges if e.author in col and e.target in col]
    routed = [e for e in edges if abs(col[e.author] - col[e.target]) != 1]
    boxes, width, height, band = layout(hood, len(routed))
    lanes = {(e.author, e.target): i for i, e in enumerate(routed)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="graph-title">',
        f'<title id="graph-title">Trust neighbourhood of {escape(hood.center)}</title>',
    ]
    for edge in sorted(edges, key=lambda e: (e.author, e.target) in highlighted):
        key = (edge.author, edge.target)
        points = route(
            boxes[edge.author],
            boxes[edge.target],
            col[edge.author],
            col[edge.target],
            lanes.get(key, 0),
            band,
        )
        cls = "edge path" if key in highlighted else "edge"
        dash = ' stroke-dasharray="4 3"' if edge.kind == "reference" else ""
        ends = f"data-from={quoteattr(edge.author)} data-to={quoteattr(edge.target)}"
        if len(points) == 2:
            (x1, y1), (x2, y2) = points
            parts.append(
                f'<line class="{cls}" {ends} x1="{x1:.1f}" y1="{y1:.1f}" '
                f'x2="{x2:.1f}" y2="{y2:.1f}"{dash}/>'
            )
        else:
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline class="{cls}" {ends} points="{pts}"{dash}/>')
        parts.append(
            _arrow(points[-2], points[-1], "arrow path" if key in highlighted else "arrow")
        )
    for node in hood.nodes:
        b = boxes[node]
        classes = ["node"]
        if node == hood.center:
            classes.append("focus")
        if node in hood.seeds:
            classes.append("seed")
        if node in on_path:
            classes.append("on-path")
        parts.append(
            f'<g class="{" ".join(classes)}" data-member={quoteattr(node)}>'
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h}" rx="4"/>'
            f'<text x="{b.x + PAD:.1f}" y="{b.cy + FONT * 0.35:.1f}">{escape(node)}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _arrow(before: tuple[float, float], tip: tuple[float, float], cls: str) -> str:
    """A small triangle at the target end, pointing along the last segment."""
    (x1, y1), (x2, y2) = before, tip
    length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5 or 1.0
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    px, py = -uy * 4, ux * 4
    return (
        f'<polygon class="{cls}" points="{x2:.1f},{y2:.1f} '
        f"{x2 - ux * 8 + px:.1f},{y2 - uy * 8 + py:.1f} "
        f'{x2 - ux * 8 - px:.1f},{y2 - uy * 8 - py:.1f}"/>'
    )
