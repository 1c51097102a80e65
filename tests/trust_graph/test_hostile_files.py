"""Graph files from anyone: linear-time parsing, a cap on decompressed size, and a
one-line error (never a traceback) for every malformed file, through the real CLI."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trust_graph.formats import (
    FORMATS,
    FormatError,
    load,
    parse_csv,
    parse_dot,
    parse_konect,
    parse_snap,
)

ROOT = Path(__file__).resolve().parents[2]


def _padded(n: int) -> dict[str, tuple[Callable[[str], object], str, bool]]:
    """Lines with ``n`` spaces where a backtracking pattern would try every split."""
    pad = " " * n
    return {
        "dot edge then junk": (parse_dot, f"digraph G {{\n  a -> b{pad}x\n}}\n", False),
        "dot edge, padded everywhere": (
            parse_dot,
            f"digraph G {{\n{pad}a -> b{pad}[level{pad}={pad}Master]{pad};{pad}\n}}\n",
            True,
        ),
        "dot node then junk": (parse_dot, f"digraph G {{\n a{pad};{pad}x\n}}\n", False),
        "dot comment": (parse_dot, f"digraph G {{\n /*{pad}a{pad}*/\n}}\n", True),
        # one field stays under the csv module's limit (131,072 characters)
        "csv": (parse_csv, "source,target\na,b," + ",".join([pad[: n // 8]] * 8) + "\n", True),
        "snap": (parse_snap, f"1,2,1{pad}\n", True),
        "konect": (parse_konect, f"{pad}1 2{pad}\n", True),
    }


def _best_time(parse: Callable[[str], object], text: str, ok: bool) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        if ok:
            parse(text)
        else:
            with pytest.raises(FormatError, match="line 2"):
                parse(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("case", sorted(_padded(0)))
def test_padded_lines_parse_in_linear_time(case: str):
    parse, text, ok = _padded(100_000)[case]
    at_100k = _best_time(parse, text, ok)
    assert at_100k < 2.0, at_100k  # the old pattern needed 21 s for 2,000 spaces
    # Eight times the padding costs about eight times the time (quadratic would be 64x).
    parse, text, ok = _padded(800_000)[case]
    at_800k = _best_time(parse, text, ok)
    assert at_800k < 24 * at_100k + 0.05, (at_100k, at_800k)


def test_padded_dot_still_reads_the_certificate():
    _, text, _ = _padded(1000)["dot edge, padded everywhere"]
    snap = parse_dot(text)
    assert snap.ids == ["a", "b"] and snap.m == 1
    observer = parse_dot('digraph G {\n a -> b [ level = "Observer" ];\n c;\n}\n')
    assert observer.m == 0 and observer.ids == ["a", "b", "c"]


def test_a_gzip_bomb_is_refused_without_expanding_it(tmp_path: Path):
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"source,target\na,b\n" + b" " * 200_000_000))
    assert bomb.stat().st_size < 300_000
    with pytest.raises(FormatError, match="larger than 128 MiB"):
        load(bomb)
    with pytest.raises(FormatError, match="larger than 1 MiB"):
        load(bomb, max_bytes=1024 * 1024)
    small = tmp_path / "small.csv.gz"
    small.write_bytes(gzip.compress(b"source,target\na,b\n"))
    assert "a" in load(small, max_bytes=64)
    with pytest.raises(FormatError, match="larger than 8 bytes"):
        load(small, max_bytes=8)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("nul.csv", b"source,target\na\x00,b\n", "line 2: NUL byte"),
        ("nul.dot", b"digraph G {\n a -> b;\n c\x00 -> d;\n}\n", "line 3: NUL byte"),
        ("nul.out", b"1 2\n3\x004\n", "line 2: NUL byte"),
        ("latin1.csv", "source,target\nJos\xe9,b\n".encode("latin-1"), "line 2: not UTF-8"),
        ("utf16.csv", "source,target\na,b\n".encode("utf-16"), "not UTF-8"),
        ("huge-field.csv", b'source,target\n"' + b"a" * 200_000 + b'",b\n', "line 2: field"),
        ("truncated.csv.gz", gzip.compress(b"source,target\n" + b"a,b\n" * 5000)[:60], "gzip"),
        ("corrupt.csv.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 40, "gzip"),
        ("commas.csv", b",,,\n1,2,1\n", "line"),
        ("huge-id.out", b"1e400 2\n", "out of range"),
        ("saturated-id.out", b"1 99999999999999999999\n", "out of range"),
        ("binary.out", bytes(range(1, 256)) * 4, "not UTF-8"),
    ],
)
def test_malformed_files_are_one_typed_error(tmp_path: Path, name: str, content: bytes, needle):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FormatError, match=needle) as caught:
        load(path)
    assert len(str(caught.value).splitlines()) == 1


@pytest.mark.filterwarnings("error")  # a numpy cast warning means garbage ids got through
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(
            alphabet=st.sampled_from(list('0123456789-.,e \t\n"#%;[]=>/*abnf\x00é')),
            max_size=300,
        ),
    ),
    fmt=st.sampled_from([None, *FORMATS]),
)
def test_any_bytes_load_or_raise_format_error(tmp_path_factory, data, fmt):
    path = tmp_path_factory.mktemp("fuzz") / "graph.txt"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    try:
        load(path, fmt)
    except FormatError as exc:
        assert len(str(exc).splitlines()) == 1


# -- through the real `dsx` executable --------------------------------------------------------


def _dsx(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    dsx = Path(sys.executable).with_name("dsx")
    return subprocess.run(
        [str(dsx), *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )


@pytest.mark.parametrize(
    ("name", "content", "extra", "needle"),
    [
        ("nul.csv", b"source,target\na\x00,b\n", (), "line 2: NUL byte"),
        ("latin1.csv", "source,target\nJos\xe9,b\n".encode("latin-1"), (), "not UTF-8"),
        ("huge-field.csv", b'source,target\n"' + b"a" * 200_000 + b'",b\n', (), "field larger"),
        ("bomb.csv.gz", gzip.compress(b"a,b\n" + b" " * 3_000_000), ("--max-size", "2"), "2 MiB"),
        ("cut.csv.gz", gzip.compress(b"source,target\n" + b"a,b\n" * 5000)[:60], (), "gzip"),
        ("pad.dot", b"digraph G {\n  a -> b" + b" " * 100_000 + b"x\n}\n", (), "line 2"),
    ],
)
def test_cli_prints_one_line_and_exits_non_zero(tmp_path: Path, name, content, extra, needle):
    path = tmp_path / name
    path.write_bytes(content)
    result = _dsx("trust", "accepted", "--graph", str(path), "--seeds", "a", *extra)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dsx trust accepted: error: ") and needle in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_max_size_lets_a_trusted_large_file_through(tmp_path: Path):
    path = tmp_path / "g.csv.gz"
    path.write_bytes(gzip.compress(b"source,target\na,b\n" + b"# a comment\n" * 300_000))
    refused = _dsx("trust", "accepted", "--graph", str(path), "--seeds", "a", "--max-size", "1")
    assert refused.returncode == 1 and "larger than 1 MiB" in refused.stderr
    allowed = _dsx("trust", "accepted", "--graph", str(path), "--seeds", "a", "--max-size", "4")
    assert allowed.returncode == 0, allowed.stderr
    assert '"accepted":["a"' in allowed.stdout
    usage = _dsx("trust", "accepted", "--graph", str(path), "--seeds", "a", "--max-size", "0")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
