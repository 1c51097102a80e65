"""Routing and batch-matching benchmark; prints one JSON object.

    .venv/bin/python bench/matching.py [--requests 10000] [--providers 2000] [--seed 0]

Measures, on one synthetic network (``coordinator.routing.synthetic``):
* ranking every open request (full order, vectorized) and explained top-5 proposals;
* the explained full ranking for a sample of requests;
* batch matching at full size, against two plain baselines measured in the same run:
  the naive urgency-greedy at full size, the plain LAP over all pairs at full size, and
  networkx ``max_flow_min_cost`` on a smaller instance, where our result must be equal.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

# bench/coordinator.py would shadow the coordinator package when run as a script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from coordinator.routing import Assignment, Router, Urgency, batch_assign  # noqa: E402
from coordinator.routing.reference import flow_assign, greedy_assign  # noqa: E402
from coordinator.routing.synthetic import network  # noqa: E402


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def coverage(assignment: Assignment, requests) -> dict[str, object]:
    urgency = {r.id: r.urgency for r in requests}
    served = assignment.coverage(urgency)
    wanted = Counter(r.urgency for r in requests)
    return {
        "assigned": len(assignment.assigned),
        "by_urgency": {u.name.lower(): f"{served[u]}/{wanted[u]}" for u in reversed(Urgency)},
        "total_cost": assignment.total_cost,
    }


def key(assignment: Assignment, requests) -> tuple:
    served = assignment.coverage({r.id: r.urgency for r in requests})
    return (tuple(served[u] for u in reversed(Urgency)), -assignment.total_cost)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--providers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=200, help="requests for full explained rank")
    parser.add_argument("--small-requests", type=int, default=1_000)
    parser.add_argument("--small-providers", type=int, default=200)
    args = parser.parse_args()

    net, gen_s = timed(network, args.requests, args.providers, args.seed)
    requests = list(net.requests)
    out: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
        "instance": {
            "requests": len(requests),
            "providers": len(net.providers),
            "free_slots": sum(p.free for p in net.providers if net.trust[p.id].accepted),
            "generate_s": round(gen_s, 3),
        },
    }

    router, index_s = timed(Router, net.providers, net.trust)
    start = time.perf_counter()
    pairs = sum(len(router.index.scored(r).positions) for r in requests)
    order_s = time.perf_counter() - start
    _, top5_s = timed(lambda: [router.rank(r, limit=5) for r in requests])
    sample = requests[: args.sample]
    full, full_s = timed(lambda: [router.rank(r) for r in sample])
    out["instance"]["eligible_pairs"] = pairs
    out["ranking"] = {
        "index_build_s": round(index_s, 3),
        "full_order_all_requests_s": round(order_s, 3),
        "full_order_per_request_us": round(order_s / len(requests) * 1e6, 1),
        "top5_explained_all_requests_s": round(top5_s, 3),
        "top5_explained_per_request_us": round(top5_s / len(requests) * 1e6, 1),
        "full_explained_per_request_ms": round(full_s / len(sample) * 1e3, 2),
        "full_explained_mean_candidates": round(sum(map(len, full)) / len(sample), 1),
    }

    ours, ours_s = timed(batch_assign, requests, net.providers, net.trust)
    greedy, greedy_s = timed(greedy_assign, requests, net.providers, net.trust)
    plain, plain_s = timed(batch_assign, requests, net.providers, net.trust, top_k=10**9)
    assert key(plain, requests) == key(ours, requests), "reduced solver disagrees with plain LAP"
    stats = ours.stats
    out["batch"] = {
        "seconds": round(ours_s, 3),
        **coverage(ours, requests),
        "solver": {
            "rounds": stats.rounds if stats else 0,
            "pairs_used": stats.pairs_used if stats else 0,
            "pairs_total": stats.pairs_total if stats else 0,
            "proved_optimal_on_reduced_pairs": stats.proved if stats else True,
        },
        "baseline_plain_lap_all_pairs": {"seconds": round(plain_s, 3), "same_optimum": True},
        "baseline_greedy": {
            "seconds": round(greedy_s, 3),
            **coverage(greedy, requests),
            "ours_lexicographically_better": key(ours, requests) > key(greedy, requests),
        },
    }

    small = network(args.small_requests, args.small_providers, args.seed + 1)
    small_requests = list(small.requests)
    ours_small, ours_small_s = timed(batch_assign, small_requests, small.providers, small.trust)
    flow_small, flow_small_s = timed(flow_assign, small_requests, small.providers, small.trust)
    out["batch_small_vs_networkx"] = {
        "requests": len(small_requests),
        "providers": len(small.providers),
        "ours_s": round(ours_small_s, 3),
        "networkx_max_flow_min_cost_s": round(flow_small_s, 3),
        "speedup": round(flow_small_s / ours_small_s, 1),
        "same_optimum": key(ours_small, small_requests) == key(flow_small, small_requests),
        **coverage(ours_small, small_requests),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
