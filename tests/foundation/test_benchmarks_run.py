"""Every benchmark still runs: each script, at a tiny size, prints the JSON it promises.

A benchmark that nobody runs rots silently (bench/load.py stopped at start-up once the
audit key became mandatory, and nothing noticed). These runs measure nothing worth
keeping; they only prove the scripts work against the real components they drive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_load_benchmark_measures_both_bots_and_loses_nothing() -> None:
    out = run_bench(
        "load.py",
        *("--rooms", "2", "--rates", "1", "--step-seconds", "3", "--senders", "2"),
        *("--floor-samples", "3", "--soak", "20", "--soak-rate", "2"),
    )
    assert out["total"]["lost"] == 0 and out["total"]["requests_sent"] >= 40
    assert [p["rooms"] for p in out["echo_phases"]] == [2]
    assert out["echo_phases"][0]["proposals_received_within_drain"] > 0
    assert out["knee_ratio"]["2"]["echo_per_second"] is not None
    assert out["soak"]["marks"][-1]["requests"] == 20
    step = out["phases"][0]["steps"][0]
    assert step["bot_cpu_ms_per_request"] > 0 and step["missing_after_drain"] == 0


def test_routing_benchmark_compares_with_the_echo_floor() -> None:
    out = run_bench("routing.py", "--samples", "3", "--rooms", "2", "--per-room", "1")
    text = json.dumps(out)
    assert "floor" in text and "ratio" in text


def test_use_case_benchmark_runs_on_both_databases() -> None:
    out = run_bench(
        "coordinator.py", "--cases", "5", "--batch-requests", "20", "--batch-providers", "10"
    )
    text = json.dumps(out)
    assert "sqlite" in text and "postgres" in text


def test_matching_benchmark_runs() -> None:
    out = run_bench(
        "matching.py",
        *("--requests", "50", "--providers", "20", "--sample", "5"),
        *("--small-requests", "20", "--small-providers", "10"),
    )
    assert out
