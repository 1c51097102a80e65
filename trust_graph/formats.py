"""Reading and writing vouch graphs: our CSV edge list, SNAP signed, KONECT, Advogato DOT.

Big numeric files are parsed with numpy in one pass (no Python loop per edge), which is
what keeps loading Epinions (718k vouches) under a second.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np

from trust_graph.graph import TrustGraph
from trust_graph.model import EDGE_CODES, EdgeKind
from trust_graph.snapshot import Snapshot

FORMATS = ("csv", "snap", "konect", "dot")
CSV_HEADER = ("source", "target", "kind", "at")
_DOT_EDGE = re.compile(r'^\s*"?([^\s"]+)"?\s*->\s*"?([^\s"\[;]+)"?\s*(?:\[(.*?)\])?\s*;?\s*$')
_DOT_NODE = re.compile(r'^\s*"?([^\s"\[;=]+)"?\s*(?:\[.*\])?\s*;?\s*$')
_DOT_LEVEL = re.compile(r'level\s*=\s*"?(\w+)"?')
_DOT_COMMENT = re.compile(r"^\s*/\*\s*(\S+)\s*\*/\s*$")
_DOT_SKIP = ("digraph", "strict digraph", "//", "#")
TRUSTING_LEVELS = frozenset({"apprentice", "journeyer", "master"})


class FormatError(ValueError):
    """The file does not parse as the format it claims (or was detected) to be."""


def detect(path: Path, head: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".dot") or head.lstrip().startswith(("digraph", "strict digraph")):
        return "dot"
    if name.startswith("out.") or name.endswith(".out") or ".out." in name:
        return "konect"
    first = next((ln for ln in head.splitlines() if ln.strip() and ln[0] not in "#%"), "")
    cells = [c.strip() for c in first.split(",")]
    if len(cells) >= 2 and cells[0].lower() == "source" and "kind" in [c.lower() for c in cells]:
        return "csv"
    if len(cells) >= 3 or "\t" in first:
        return "snap"
    if len(cells) == 2:
        return "csv"
    return "konect"


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text ({exc.reason})") from None


def load(path: str | Path, fmt: str | None = None) -> TrustGraph:
    """Load a graph file; ``fmt`` is one of FORMATS, or None to detect it."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    try:
        text = _read_text(path)
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    fmt = fmt or detect(path, text[:4096])
    parser = {"csv": parse_csv, "snap": parse_snap, "konect": parse_konect, "dot": parse_dot}
    return TrustGraph.from_snapshot(parser[fmt](text, source=str(path)))


def _strip_comments(text: str, marks: str) -> tuple[str, int]:
    """Drop leading comment lines; returns the body and how many lines were dropped."""
    skipped = 0
    pos = 0
    while pos < len(text) and (text[pos] in marks or text[pos] == "\n"):
        nl = text.find("\n", pos)
        pos = len(text) if nl < 0 else nl + 1
        skipped += 1
    return text[pos:], skipped


def _numeric_table(body: str, source: str, offset: int, min_cols: int) -> np.ndarray:
    first = body.split("\n", 1)[0]
    if not first.strip():
        return np.zeros((0, min_cols))
    comma = "," in first
    if comma:
        body = body.replace(",", " ")
    cols = len(first.replace(",", " ").split())
    if cols < min_cols:
        raise FormatError(f"{source}: line {offset + 1}: expected at least {min_cols} columns")
    nlines = body.count("\n") + (0 if body.endswith("\n") else 1)
    dtype = np.float64 if ("." in body or "e" in body or "E" in body) else np.int64
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flat = np.fromstring(body, dtype=dtype, sep=" ")
    except ValueError:
        flat = np.zeros(0)
    if flat.size != cols * nlines:
        _diagnose(body, source, offset, cols)
    table = flat.reshape(-1, cols)
    if dtype is np.float64 and not np.all(table[:, :2] == np.round(table[:, :2])):
        raise FormatError(f"{source}: member ids must be integers")
    return table


def _diagnose(body: str, source: str, offset: int, cols: int) -> None:
    """Slow path, only for broken files: name the first bad line."""
    for no, line in enumerate(body.splitlines(), start=offset + 1):
        cells = line.split()
        if not cells:
            raise FormatError(f"{source}: line {no}: empty line")
        try:
            [float(c) for c in cells]
        except ValueError:
            raise FormatError(f"{source}: line {no}: not a number in {line[:60]!r}") from None
        if len(cells) != cols:
            raise FormatError(f"{source}: line {no}: expected {cols} columns, got {len(cells)}")
    raise FormatError(f"{source}: malformed numeric table")


def _numeric_snapshot(
    src: np.ndarray, dst: np.ndarray, at: np.ndarray | None, extra_ids: np.ndarray | None = None
) -> Snapshot:
    src, dst = src.astype(np.int64), dst.astype(np.int64)
    every = extra_ids.astype(np.int64) if extra_ids is not None else np.r_[src, dst]
    if every.size and every.min() >= 0 and every.max() < 1 << 26:
        present = np.zeros(int(every.max()) + 1, dtype=bool)
        present[every] = True
        uniq = np.flatnonzero(present)
        rank = np.cumsum(present) - 1
        s, d = rank[src], rank[dst]
    else:
        uniq = np.unique(every)
        s, d = np.searchsorted(uniq, src), np.searchsorted(uniq, dst)
    ids = [str(x) for x in uniq.tolist()]
    return Snapshot.from_edges(ids, s, d, at=at)


def parse_snap(text: str, source: str = "<snap>") -> Snapshot:
    """SNAP signed networks: ``source,target,rating[,time]``; only positive ratings vouch."""
    body, skipped = _strip_comments(text, "#")
    first = body.split("\n", 1)[0]
    if first and not first.replace(",", " ").split()[0].lstrip("-").isdigit():
        body, skipped = body.split("\n", 1)[1] if "\n" in body else "", skipped + 1  # header
    table = _numeric_table(body, source, skipped, 3)
    positive = table[:, 2] > 0
    at = table[positive, 3] if table.shape[1] >= 4 else None
    # raters and rated with only negative ratings are still members, just unvouched
    return _numeric_snapshot(table[positive, 0], table[positive, 1], at, table[:, :2].ravel())


def parse_konect(text: str, source: str = "<konect>") -> Snapshot:
    """KONECT ``out.*``: ``src dst [weight [time]]``; every listed edge is a vouch."""
    body, skipped = _strip_comments(text, "%#")
    table = _numeric_table(body, source, skipped, 2)
    at = table[:, 3] if table.shape[1] >= 4 else None
    return _numeric_snapshot(table[:, 0], table[:, 1], at)


def parse_dot(text: str, source: str = "<dot>") -> Snapshot:
    """Advogato certification dumps; Observer certificates carry no trust and are skipped."""
    members: dict[str, int] = {}
    src: list[int] = []
    dst: list[int] = []

    def num(name: str) -> int:
        if name not in members:
            members[name] = len(members)
        return members[name]

    for no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped in ("}", "{") or stripped.startswith(_DOT_SKIP):
            continue
        comment = _DOT_COMMENT.match(line)
        if comment:
            num(comment.group(1))
            continue
        if stripped.startswith(("graph ", "node ", "edge ")):
            continue  # default attributes
        if "->" not in stripped:
            node = _DOT_NODE.match(line)
            if node:
                num(node.group(1))
                continue
            if "=" in stripped and stripped.endswith(";"):
                continue  # graph attribute
            raise FormatError(f"{source}: line {no}: not a DOT edge: {stripped[:60]!r}")
        m = _DOT_EDGE.match(line)
        if not m:
            raise FormatError(f"{source}: line {no}: not a DOT edge: {stripped[:60]!r}")
        level = _DOT_LEVEL.search(m.group(3) or "")
        a, b = num(m.group(1)), num(m.group(2))
        if level is not None and level.group(1).lower() not in TRUSTING_LEVELS:
            continue
        src.append(a)
        dst.append(b)
    if not members:
        raise FormatError(f"{source}: no members found")
    return Snapshot.from_edges(
        list(members), np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)
    )


def parse_csv(text: str, source: str = "<csv>") -> Snapshot:
    """Our edge list: header ``source,target,kind,at`` (kind and ISO time optional)."""
    members: dict[str, int] = {}
    src: list[int] = []
    dst: list[int] = []
    kinds: list[int] = []
    ats: list[float] = []
    rows = csv.reader(io.StringIO(text))
    for no, row in enumerate(rows, start=1):
        if not row or row[0].startswith("#"):
            continue
        if no == 1 and row[0].strip().lower() == "source":
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise FormatError(f"{source}: line {no}: expected source,target[,kind[,at]]")
        a, b = row[0].strip(), row[1].strip()
        try:
            kind = EdgeKind(row[2].strip() or "vouch") if len(row) > 2 else EdgeKind.VOUCH
            when = datetime.fromisoformat(row[3].strip()) if len(row) > 3 and row[3] else None
        except ValueError as exc:
            raise FormatError(f"{source}: line {no}: {exc}") from None
        for name in (a, b):
            members.setdefault(name, len(members))
        src.append(members[a])
        dst.append(members[b])
        kinds.append(EDGE_CODES.index(kind))
        ats.append(when.timestamp() if when is not None else np.nan)
    return Snapshot.from_edges(
        list(members),
        np.array(src, dtype=np.int64),
        np.array(dst, dtype=np.int64),
        ekind=np.array(kinds, dtype=np.int8),
        at=np.array(ats, dtype=np.float64),
    )


def dump_csv(tg: TrustGraph) -> str:
    """Our CSV edge list (round-trips through :func:`parse_csv`)."""
    from datetime import UTC

    snap = tg.snapshot
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    ids = snap.ids
    for u, v, k, a in zip(
        snap.src.tolist(), snap.dst.tolist(), snap.ekind.tolist(), snap.at.tolist(), strict=True
    ):
        when = "" if a != a else datetime.fromtimestamp(a, tz=UTC).isoformat()
        w.writerow((ids[u], ids[v], EDGE_CODES[k].value, when))
    return out.getvalue()
