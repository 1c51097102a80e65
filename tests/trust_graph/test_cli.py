"""`dsx trust ...`: JSON on stdout, one-line errors with a non-zero exit."""

from __future__ import annotations

import json

import pytest

from dsx.cli.main import main
from trust_graph import Policy
from trust_graph.formats import load

GRAPH = """source,target,kind,at
p1,alice,vouch,
p2,alice,vouch,
alice,bob,vouch,
bob,carol,reference,
p1,dave,vouch,
dave,carol,reference,
"""


@pytest.fixture
def graph(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text(GRAPH)
    return path


def run(capsys, *argv):
    code = main(["trust", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_vet(capsys, graph):
    code, out, err = run(
        capsys, "vet", "carol", "--graph", graph, "--seeds", "p1,p2", "--from", "p2"
    )
    assert code == 0 and not err
    d = json.loads(out)
    assert d["member"] == "carol" and d["eligible"] is True
    assert d["shortest_path"] == ["p2", "alice", "bob", "carol"]
    assert d["disjoint_paths"] == [["p1", "dave", "carol"], ["p2", "alice", "bob", "carol"]]
    assert d["cut"] == [] and d["probation"] is False
    assert {r["code"] for r in d["reasons"]} == {"references_from_accepted", "flow_accepted"}


def test_paths_single_and_batch(capsys, graph, tmp_path):
    code, out, _ = run(capsys, "paths", "p1", "carol", "--graph", graph, "--k", "3")
    assert code == 0
    single = json.loads(out)
    assert single["paths"] == [["p1", "dave", "carol"], ["p1", "alice", "bob", "carol"]]
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("p1 carol\n\np2\tbob\nbob p1\n")
    code, out, _ = run(capsys, "paths", "--graph", graph, "--batch", pairs)
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0
    assert [(x["from"], x["to"]) for x in lines] == [("p1", "carol"), ("p2", "bob"), ("bob", "p1")]
    assert lines[0]["paths"] == single["paths"]
    assert lines[1]["paths"] == [["p2", "alice", "bob"]]
    assert lines[2]["paths"] == []


def test_impact_and_accepted(capsys, graph):
    code, out, _ = run(capsys, "impact", "alice", "--graph", graph, "--seeds", "p1,p2")
    assert code == 0 and json.loads(out)["orphaned"] == ["bob"]
    radius = json.loads(out)
    assert radius["accepted"] == ["bob"] and radius["waiting"] == []
    assert radius["accepted_dependents"] == 1 and radius["bound"] == Policy().fakes_per_member
    code, out, _ = run(capsys, "accepted", "--graph", graph, "--seeds", "p1,p2")
    assert code == 0
    assert json.loads(out)["accepted"] == ["alice", "bob", "carol", "dave", "p1", "p2"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["vet", "nobody", "--seeds", "p1"], "nobody"),
        (["vet", "carol", "--seeds", "p1,ghost"], "ghost"),
        (["paths", "p1", "ghost"], "ghost"),
        (["accepted", "--seeds", "p1", "--format", "graphml"], "unknown format"),
        (["accepted", "--seeds", "p1", "--capacities", "10,x"], "capacities"),
    ],
)
def test_bad_input_one_line_nonzero(capsys, graph, argv, needle):
    code, out, err = run(capsys, *argv, "--graph", graph)
    assert code != 0 and not out
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_malformed_and_missing_files(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("source,target,kind,at\na,b,vouch,\nonlyone\n")
    code, _, err = run(capsys, "accepted", "--graph", bad, "--seeds", "a")
    assert code == 1 and "line 3" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "accepted", "--graph", tmp_path / "none.csv", "--seeds", "a")
    assert code == 1 and "not found" in err


def test_batch_with_unknown_member_reports_it_in_place(capsys, graph, tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("p1 ghost\np1 alice\n")
    code, out, err = run(capsys, "paths", "--graph", graph, "--batch", pairs)
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 1 and len(lines) == 2 and "ghost" in lines[0]["error"]
    assert lines[1]["paths"] == [["p1", "alice"]]
    assert len(err.strip().splitlines()) == 1


def test_policy_in_operator_terms_and_the_expert_schedule(capsys, tmp_path):
    """a, vouched for by the seed, vouches for x and y: fakes_per_member says how many pass."""
    path = tmp_path / "fan.csv"
    path.write_text("source,target,kind,at\np1,a,vouch,\na,x,vouch,\na,y,vouch,\n")
    argv = ["accepted", "--graph", path, "--seeds", "p1"]
    code, out, _ = run(capsys, *argv, "--fakes-per-member", "1", "--colluders", "2")
    assert code == 0 and json.loads(out)["count"] == 3  # p1, a and one of x, y
    code, out, _ = run(capsys, *argv, "--fakes-per-member", "2")
    assert code == 0 and json.loads(out)["accepted"] == ["a", "p1", "x", "y"]
    code, out, _ = run(capsys, *argv, "--capacities", "3,1", "--max-depth", "2")
    assert code == 0 and json.loads(out)["accepted"] == ["a", "p1"]  # a passes nothing on
    with pytest.raises(SystemExit) as usage:
        run(capsys, *argv, "--colluders", "0")
    assert usage.value.code == 2 and "--colluders: must be >= 1" in capsys.readouterr().err


def test_accepted_on_real_advogato(capsys, data_dir):
    path = data_dir / "advogato-graph-2014-06.dot"
    seeds = "raph,miguel,federico,alan"
    code, out, _ = run(capsys, "accepted", "--graph", path, "--seeds", seeds)
    expected = load(path).accepted(Policy(), seeds.split(","))
    assert code == 0 and set(json.loads(out)["accepted"]) == expected
    assert json.loads(out)["count"] == len(expected)
