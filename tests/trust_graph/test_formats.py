"""Loading the shared data sets and our CSV; each count is recomputed here independently."""

from __future__ import annotations

import csv
import gzip
import re
from datetime import UTC, datetime

import pytest

from trust_graph import EdgeKind, MemberKind, TrustGraph
from trust_graph.formats import FormatError, dump_csv, load, parse_csv


def edge_set(tg: TrustGraph) -> set[tuple[str, str]]:
    snap = tg.snapshot
    return {
        (snap.ids[u], snap.ids[v])
        for u, v in zip(snap.src.tolist(), snap.dst.tolist(), strict=True)
    }


def test_snap_csv_keeps_positive_ratings_as_vouches(data_dir):
    rows = list(csv.reader((data_dir / "soc-sign-bitcoinotc.csv").open()))
    members = {r[0] for r in rows} | {r[1] for r in rows}
    positive = {(r[0], r[1]) for r in rows if float(r[2]) > 0 and r[0] != r[1]}
    tg = load(data_dir / "soc-sign-bitcoinotc.csv")
    assert set(tg.snapshot.ids) == members
    assert edge_set(tg) == positive
    first = rows[0]
    assert tg.graph.edges[first[0], first[1]]["at"] == datetime.fromtimestamp(int(first[3]), UTC)


def test_snap_csv_with_header(data_dir):
    rows = list(csv.reader((data_dir / "soc-sign-bitcoinalpha.csv").open()))[1:]
    tg = load(data_dir / "soc-sign-bitcoinalpha.csv")
    assert tg.snapshot.m == len({(r[0], r[1]) for r in rows if int(r[2]) > 0 and r[0] != r[1]})


def test_epinions_gzip(data_dir):
    pairs, members = set(), set()
    with gzip.open(data_dir / "soc-sign-epinions.txt.gz", "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            a, b, sign = line.split()
            members.update((a, b))
            if int(sign) > 0 and a != b:
                pairs.add((a, b))
    tg = load(data_dir / "soc-sign-epinions.txt.gz")
    assert tg.snapshot.n == len(members) == 131_828
    assert tg.snapshot.m == len(pairs)
    assert ("0", "1") not in pairs  # a distrust rating is not a vouch


def test_konect(data_dir):
    lines = (data_dir / "advogato-konect.out.txt").read_text().split("\n")
    pairs = {tuple(ln.split()[:2]) for ln in lines if ln.strip() and ln[0] not in "%#"}
    tg = load(data_dir / "advogato-konect.out.txt")
    assert edge_set(tg) == {p for p in pairs if p[0] != p[1]}
    assert tg.snapshot.n == 6_539


def test_advogato_dot_skips_observer_certificates(data_dir):
    text = (data_dir / "advogato-graph-2014-06.dot").read_text()
    edges = re.findall(r'^\s*(\S+) -> (\S+) \[level="(\w+)"\];', text, re.M)
    trusted = {(a, b) for a, b, lvl in edges if lvl != "Observer" and a != b}
    tg = load(data_dir / "advogato-graph-2014-06.dot")
    assert edge_set(tg) == trusted and len(trusted) == 47_154
    assert tg.snapshot.n == 14_008  # every account comment is a member
    assert {"raph", "miguel", "federico", "alan"} <= set(tg.snapshot.ids)


def test_old_dot_dialect(data_dir):
    tg = load(data_dir / "advogato-graph-2000-08-11.dot")
    assert tg.snapshot.m > 10_000 and "raph" in tg


def test_csv_round_trip():
    tg = TrustGraph()
    for m in ("a", "b", "c"):
        tg.add_member(m, MemberKind.PROVIDER)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    tg.vouch("a", "b", EdgeKind.REFERENCE, at=when)
    tg.vouch("b", "c")
    again = TrustGraph.from_snapshot(parse_csv(dump_csv(tg)))
    assert edge_set(again) == {("a", "b"), ("b", "c")}
    assert again.graph.edges["a", "b"]["kind"] == EdgeKind.REFERENCE
    assert again.graph.edges["a", "b"]["at"] == when
    assert again.graph.edges["b", "c"]["at"] is None


@pytest.mark.parametrize(
    ("name", "content", "fmt", "needle"),
    [
        ("bad.csv", "source,target,kind,at\na,b,vouch,\nc\n", None, "line 3"),
        ("bad.csv", "source,target,kind,at\na,b,admire,\n", None, "line 2"),
        ("bad-snap.csv", "1,2,3,4\n5,x,1,9\n", "snap", "line 2"),
        ("bad.dot", "digraph G {\n  a -> b;\n  this is not dot\n}\n", None, "line 3"),
        ("g.csv", "a,b\n", "graphml", "unknown format"),
        ("missing.csv", None, None, "cannot read"),
    ],
)
def test_bad_input_is_named(tmp_path, name, content, fmt, needle):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(FormatError, match=needle):
        load(path, fmt)
