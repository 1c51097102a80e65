"""Sybil resistance against honest coverage on real graphs; prints one JSON object.

For each graph: honest coverage (accepted / members reachable from the seeds), then for
1, 2 and 3 colluders at distance 1, 2 and 3 from the seeds, under each attack shape of
:mod:`trust_graph.attacks`, ``--trials`` random choices of the colluders: the fakes
accepted (median and max) against the policy's stated bound, and the honest members
lost. Advogato 2014 (Observer certificates dropped) with its historical seeds; Bitcoin
OTC (positive ratings) with the four most-rated members as seeds.

    .venv/bin/python bench/sybil.py [--data DIR] [--trials N] [--fakes N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

from trust_graph import Policy, TrustGraph  # noqa: E402
from trust_graph.attacks import SHAPES, candidates, plant  # noqa: E402
from trust_graph.formats import load  # noqa: E402
from trust_graph.policy import seed_numbers  # noqa: E402
from trust_graph.snapshot import bfs_levels  # noqa: E402

ADVOGATO_SEEDS = ("alan", "federico", "miguel", "raph")
LEGACY = Policy(capacities=(800, 200, 50, 12, 4, 2, 1), max_depth=6)
RNG_SEED = 20261204


def reachable(tg: TrustGraph, seeds) -> int:
    snap = tg.snapshot
    nums = seed_numbers(snap, tuple(seeds))
    return int((bfs_levels(snap.indptr, snap.dst, nums, ~snap.excluded, snap.passable) >= 0).sum())


def most_rated(tg: TrustGraph, count: int) -> tuple[str, ...]:
    snap = tg.snapshot
    indeg = np.bincount(snap.dst, minlength=snap.n)
    order = np.lexsort((np.arange(snap.n), -indeg))[:count]
    return tuple(snap.ids[i] for i in sorted(order.tolist()))


def coverage(tg: TrustGraph, policy: Policy, seeds, reach: int) -> dict:
    start = time.perf_counter()
    accepted = tg.accepted(policy, seeds)
    return {
        "accepted": len(accepted),
        "reachable": reach,
        "coverage": round(len(accepted) / reach, 4),
        "seconds": round(time.perf_counter() - start, 3),
    }


def attack_table(
    snap, policy: Policy, seeds, honest: frozenset[str], args, colluder_counts, distances
) -> list[dict]:
    rows = []
    base = TrustGraph.from_snapshot(snap)
    for k in colluder_counts:
        for d in distances:
            pool = candidates(base, policy, seeds, d)
            if len(pool) < k:
                rows.append({"colluders": k, "distance": d, "skipped": "too few members"})
                continue
            for shape in SHAPES:
                fakes_in, lost = [], []
                for trial in range(args.trials):
                    rng = random.Random(f"{RNG_SEED}-{k}-{d}-{shape}-{trial}")
                    colluders = sorted(rng.sample(pool, k))
                    tg = TrustGraph.from_snapshot(snap)
                    fakes = plant(tg, colluders, args.fakes, shape, rng)
                    accepted = tg.accepted(policy, seeds)
                    fakes_in.append(len(accepted & fakes))
                    lost.append(len(honest - accepted))
                bound = policy.bound(k)
                rows.append(
                    {
                        "colluders": k,
                        "distance": d,
                        "shape": shape,
                        "fakes_median": statistics.median(fakes_in),
                        "fakes_max": max(fakes_in),
                        "bound": bound,
                        "within_bound": bound is None or max(fakes_in) <= bound,
                        "honest_lost_max": max(lost),
                    }
                )
    return rows


def run_graph(name: str, path: Path, seeds, args) -> dict:
    tg = load(path)
    seeds = seeds or most_rated(tg, 4)
    reach = reachable(tg, seeds)
    policy = Policy()
    out: dict = {
        "graph": name,
        "members": tg.snapshot.n,
        "vouches": tg.snapshot.m,
        "seeds": list(seeds),
        "policy": {
            "expected_members": policy.expected_members,
            "fakes_per_member": policy.fakes_per_member,
            "colluders": policy.colluders,
            "member_capacity": policy.member_capacity,
            "flat_capacity": policy.flat_capacity,
            "core_vouches": policy.core_vouches,
        },
        "default": coverage(tg, policy, seeds, reach),
        "legacy_schedule": coverage(tg, LEGACY, seeds, reach),
    }
    honest = tg.accepted(policy, seeds)
    acc = tg._acceptance(policy, seeds)
    parts = acc.flow.core
    out["default"]["core"] = int(parts.core.sum())
    counts = (1, 2) if args.quick else (1, 2, 3)
    rows = attack_table(tg.snapshot, policy, seeds, honest, args, counts, (1, 2, 3))
    out["attacks"] = rows
    judged = [r for r in rows if "shape" in r]
    within_goal = [r for r in judged if r["colluders"] <= 2]
    out["goal"] = {
        "coverage_at_least_0.90": out["default"]["coverage"] >= 0.90,
        "one_or_two_colluders_at_most_25": all(r["fakes_max"] <= 25 for r in within_goal),
        "every_row_within_stated_bound": all(r["within_bound"] for r in judged),
    }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--fakes", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="1 and 2 colluders only")
    args = ap.parse_args()
    start = time.perf_counter()
    result = {
        "advogato": run_graph(
            "advogato-2014-06",
            args.data / "advogato-graph-2014-06.dot",
            ADVOGATO_SEEDS,
            args,
        ),
        "bitcoin_otc": run_graph(
            "soc-sign-bitcoinotc", args.data / "soc-sign-bitcoinotc.csv", None, args
        ),
        "trials": args.trials,
        "fakes": args.fakes,
    }
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
