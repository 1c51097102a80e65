"""Reading and writing vouch graphs: our CSV edge list, SNAP signed, KONECT, Advogato DOT.

Big numeric files are parsed with numpy in one pass (no Python loop per edge), which is
what keeps loading Epinions (718k vouches) under a second.

A graph file may come from anyone, so reading one is bounded: parsing is linear in the
file's size (splits and strips, no backtracking regular expression), a file is read only
up to ``max_bytes`` after decompression (a small gzip file can expand a thousandfold),
and every malformed file raises :class:`FormatError` with one line naming the problem.
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np

from trust_graph.graph import TrustGraph
from trust_graph.model import EDGE_CODES, EdgeKind
from trust_graph.snapshot import Snapshot

FORMATS = ("csv", "snap", "konect", "dot")
CSV_HEADER = ("source", "target", "kind", "at")
_DOT_SKIP = ("digraph", "strict digraph", "//", "#")
TRUSTING_LEVELS = frozenset({"apprentice", "journeyer", "master"})
# Ten times the largest real data set we load (Epinions, 11 MB decompressed).
DEFAULT_MAX_BYTES = 128 * 1024 * 1024
_INT64 = np.iinfo(np.int64)
_EXACT_FLOAT_INT = 2**53  # the largest integer a float64 id holds exactly


class FormatError(ValueError):
    """The file does not parse as the format it claims (or was detected) to be, or is
    not one we read at all (too large, corrupt gzip, binary). The message is one line."""


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


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of the file, gunzipped if it is gzip; never more in memory."""
    try:
        with path.open("rb") as raw:
            if raw.read(2) != b"\x1f\x8b":
                raw.seek(0)
                data = raw.read(max_bytes + 1)
            else:
                raw.seek(0)
                try:
                    with gzip.GzipFile(fileobj=raw) as unzipped:
                        data = unzipped.read(max_bytes + 1)
                except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                    raise FormatError(f"{path}: not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise FormatError(
            f"{path}: larger than {_size(max_bytes)} (after decompression); "
            "raise the limit if the file is trusted"
        )
    return data


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def _read_text(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    data = _read_bytes(path, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"{path}: line {line}: not UTF-8 text ({exc.reason})") from None


def _check_text(text: str, source: str) -> None:
    """Refuse binary input up front: a NUL byte is in no graph format we read."""
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise FormatError(f"{source}: line {line}: NUL byte (a binary file, not a graph)")


def load(
    path: str | Path, fmt: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> TrustGraph:
    """Load a graph file; ``fmt`` is one of FORMATS, or None to detect it. Files larger
    than ``max_bytes`` (after decompression) are refused."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if max_bytes < 1:
        raise FormatError(f"the size limit must be at least 1 byte, got {max_bytes}")
    text = _read_text(path, max_bytes)
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
    ids = table[:, :2]
    if dtype is np.float64:
        if not np.all(ids == np.round(ids)):  # NaN fails this too
            raise FormatError(f"{source}: member ids must be integers")
        if ids.size and np.abs(ids).max() > _EXACT_FLOAT_INT:  # also infinities
            raise FormatError(f"{source}: a member id is out of range")
    elif ids.size and (ids.max() == _INT64.max or ids.min() == _INT64.min):
        raise FormatError(f"{source}: a member id is out of range")  # numpy saturated it
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
    _check_text(text, source)
    body, skipped = _strip_comments(text, "#")
    first = body.split("\n", 1)[0]
    cells = first.replace(",", " ").split()
    if cells and not cells[0].lstrip("-").isdigit():
        body, skipped = body.split("\n", 1)[1] if "\n" in body else "", skipped + 1  # header
    table = _numeric_table(body, source, skipped, 3)
    positive = table[:, 2] > 0
    at = table[positive, 3] if table.shape[1] >= 4 else None
    # raters and rated with only negative ratings are still members, just unvouched
    return _numeric_snapshot(table[positive, 0], table[positive, 1], at, table[:, :2].ravel())


def parse_konect(text: str, source: str = "<konect>") -> Snapshot:
    """KONECT ``out.*``: ``src dst [weight [time]]``; every listed edge is a vouch."""
    _check_text(text, source)
    body, skipped = _strip_comments(text, "%#")
    table = _numeric_table(body, source, skipped, 2)
    at = table[:, 3] if table.shape[1] >= 4 else None
    return _numeric_snapshot(table[:, 0], table[:, 1], at)


def _dot_id(token: str, forbidden: str) -> str | None:
    """A DOT id as the dumps write it, bare or double-quoted: one word, none of
    ``forbidden`` in it (None if ``token`` is not one)."""
    name = token.strip().removeprefix('"').removesuffix('"')
    if not name or len(name.split()) != 1 or '"' in name:
        return None
    return None if any(c in name for c in forbidden) else name


def _dot_tail(part: str) -> tuple[str, str | None] | None:
    """Split ``id [attrs] ;`` into the id part and the attribute text (None: no list);
    None if a bracket is left open."""
    part = part.strip()
    if part.endswith(";"):
        part = part[:-1].rstrip()
    if "[" not in part:
        return part, None
    head, _, attrs = part.partition("[")
    if not attrs.endswith("]"):
        return None
    return head, attrs[:-1]


def _dot_level(attrs: str) -> str | None:
    """The value of ``level=`` (spaces and quotes allowed) in an attribute list, if any."""
    at = attrs.find("level")
    while at >= 0:
        i = at + len("level")
        while i < len(attrs) and attrs[i].isspace():
            i += 1
        if i < len(attrs) and attrs[i] == "=":
            i += 1
            while i < len(attrs) and attrs[i].isspace():
                i += 1
            if i < len(attrs) and attrs[i] == '"':
                i += 1
            end = i
            while end < len(attrs) and (attrs[end].isalnum() or attrs[end] == "_"):
                end += 1
            if end > i:
                return attrs[i:end]
        at = attrs.find("level", at + 1)
    return None


def parse_dot(text: str, source: str = "<dot>") -> Snapshot:
    """Advogato certification dumps; Observer certificates carry no trust and are skipped.

    One pass of splits and strips per line: a line costs time linear in its length,
    whatever its padding."""
    _check_text(text, source)
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
        if stripped.startswith("/*") and stripped.endswith("*/") and len(stripped) >= 4:
            words = stripped[2:-2].split()
            if len(words) == 1:  # an account with no certificates: still a member
                num(words[0])
            continue
        if stripped.startswith(("graph ", "node ", "edge ")):
            continue  # default attributes
        bad = f"{source}: line {no}: not a DOT edge: {stripped[:60]!r}"
        if "->" not in stripped:
            tail = _dot_tail(stripped)
            name = _dot_id(tail[0], "[;=") if tail is not None else None
            if name is not None:
                num(name)
                continue
            if "=" in stripped and stripped.endswith(";"):
                continue  # graph attribute
            raise FormatError(bad)
        left, _, right = stripped.partition("->")
        tail = _dot_tail(right)
        a = _dot_id(left, "")
        b = _dot_id(tail[0], "[;") if tail is not None else None
        if tail is None or a is None or b is None:
            raise FormatError(bad)
        level = _dot_level(tail[1] or "")
        a_no, b_no = num(a), num(b)
        if level is not None and level.lower() not in TRUSTING_LEVELS:
            continue
        src.append(a_no)
        dst.append(b_no)
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
    _check_text(text, source)
    for no, row in _csv_rows(text, source):
        if not row or row[0].startswith("#"):
            continue
        if no == 1 and row[0].strip().lower() == "source":
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise FormatError(f"{source}: line {no}: expected source,target[,kind[,at]]")
        a, b = row[0].strip(), row[1].strip()
        try:
            kind = EdgeKind(row[2].strip() or "vouch") if len(row) > 2 else EdgeKind.VOUCH
            when = (
                datetime.fromisoformat(row[3].strip()) if len(row) > 3 and row[3].strip() else None
            )
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


def _csv_rows(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` per row; a row the csv module cannot read (an unclosed
    quote, a field over its size limit) is a :class:`FormatError` naming its line."""
    rows = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FormatError(f"{source}: line {rows.line_num}: {exc}") from None
        yield rows.line_num, row


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
