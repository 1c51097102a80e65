"""Benchmark of the trust graph engine; prints one JSON object.

Runs on Epinions (soc-sign-epinions, 131,828 members / 717,667 positive ratings), on a
synthetic 100k-member / 1M-vouch graph and on Advogato 2014 (its historical seeds), and
measures plain networkx on the same data in the same run (one call each: networkx takes
seconds per call here).

    .venv/bin/python bench/trust_graph.py [--data DIR] [--queries N] [--no-networkx]
        [--updates N] [--graphs epinions,synthetic,advogato]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the package it measures: keep its own folder off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from trust_graph import Policy, TrustGraph  # noqa: E402
from trust_graph.flow import advogato, compute  # noqa: E402
from trust_graph.formats import load  # noqa: E402
from trust_graph.policy import seed_numbers  # noqa: E402

RNG_SEED = 20260601
ADVOGATO_SEEDS = ("alan", "federico", "miguel", "raph")  # as bench/sybil.py
LEGACY = Policy(capacities=(800, 200, 50, 12, 4, 2, 1), max_depth=6)  # the expert schedule


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 3),
        "max_ms": round(ms[-1], 3),
    }


def synthetic(path: Path, n: int = 100_000, m: int = 1_000_000) -> None:
    """Power-law-ish directed graph written as a SNAP signed CSV (all ratings positive)."""
    rng = np.random.default_rng(RNG_SEED)
    weights = 1.0 / np.arange(1, n + 1) ** 0.8
    weights /= weights.sum()
    src = rng.choice(n, size=int(m * 1.05), p=weights)
    dst = rng.choice(n, size=int(m * 1.05), p=rng.permutation(weights))
    keep = src != dst
    pairs = np.unique(np.stack([src[keep], dst[keep]], axis=1), axis=0)
    pairs = pairs[rng.permutation(len(pairs))[:m]]
    when = 1_400_000_000 + rng.integers(0, 10**8, size=len(pairs))
    table = np.column_stack([pairs, np.ones(len(pairs), np.int64), when])
    np.savetxt(path, table, fmt="%d", delimiter=",")


def pick_pairs(tg: TrustGraph, count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    snap = tg.snapshot
    outdeg = np.diff(snap.indptr)
    indeg = np.diff(snap.rindptr)
    sources = np.flatnonzero(outdeg > 0)
    targets = np.flatnonzero(indeg > 0)
    s = rng.choice(sources, size=count)
    t = rng.choice(targets, size=count)
    return [
        (snap.ids[a], snap.ids[b]) for a, b in zip(s.tolist(), t.tolist(), strict=True) if a != b
    ]


def seeds_of(tg: TrustGraph, count: int = 4) -> list[str]:
    """The members with most vouches given: the closest thing these data have to partners."""
    snap = tg.snapshot
    outdeg = np.diff(snap.indptr)
    top = np.argsort(-outdeg, kind="stable")[:count]
    return sorted(snap.ids[i] for i in top.tolist())


def bench_graph(
    path: Path,
    queries: int,
    fmt: str | None = None,
    seeds: list[str] | None = None,
    updates: int = 200,
) -> dict:
    out: dict = {"file": path.name}
    tg, t_load = timed(load, path, fmt)
    snap = tg.snapshot
    _, t_adj = timed(lambda: snap.adj)
    out["members"], out["vouches"] = snap.n, snap.m
    out["load_s"] = round(t_load, 3)
    out["adjacency_lists_s"] = round(t_adj, 3)
    out["load_ready_s"] = round(t_load + t_adj, 3)
    out["rss_after_load_mb"] = round(peak_rss_mb(), 1)
    rng = np.random.default_rng(RNG_SEED)

    pairs = pick_pairs(tg, queries, rng)
    samples, found = [], 0
    for s, t in pairs:
        p, dt = timed(tg.shortest_path, s, t)
        samples.append(dt)
        found += p is not None
    out["shortest_path"] = {**summary(samples), "reachable_fraction": round(found / len(pairs), 3)}

    samples, two, witness = [], 0, []
    k2_pairs = pairs[: max(1, queries // 4)]
    for s, t in k2_pairs:
        p, dt = timed(tg.disjoint_paths, s, t, 2)
        samples.append(dt)
        two += len(p) == 2
        if len(p) == 2 and len(witness) < 3:
            witness.append((s, t))
    out["disjoint_k2"] = {**summary(samples), "two_paths_fraction": round(two / len(k2_pairs), 3)}

    policy = LEGACY
    seeds = seeds or seeds_of(tg)
    nums = seed_numbers(snap, tuple(seeds))
    flow, t_flow = timed(advogato, snap, policy, nums)
    accepted, t_accept = timed(tg.accepted, policy, seeds)
    out["flow"] = {
        "seeds": seeds,
        "flow_recompute_s": round(t_flow, 3),
        "accept_with_rules_s": round(t_accept, 3),
        "flow_accepted": int(flow.accepted.sum()),
        "accepted": len(accepted),
    }
    default = Policy()
    core, t_core = timed(compute, snap, default, nums)
    fresh = TrustGraph.from_snapshot(snap)
    core_accepted, t_core_all = timed(fresh.accepted, default, seeds)
    out["core_rule"] = {
        "flows_s": round(t_core, 3),
        "full_decision_s": round(t_core_all, 3),
        "core": int(core.core.core.sum()),
        "flow_accepted": int(core.accepted.sum()),
        "accepted": len(core_accepted),
    }
    out["incremental"] = bench_updates(tg, policy, seeds, rng, 40)
    out["incremental_core_rule"] = bench_updates(fresh, default, seeds, rng, updates)
    out["rss_peak_mb"] = round(peak_rss_mb(), 1)
    out["arrays_mb"] = round(arrays_bytes(snap) / 2**20, 1)
    out["_nx_args"] = (tg, witness or pairs[:1], policy, seeds, accepted)
    return out


def arrays_bytes(snap) -> int:
    """The snapshot's own arrays (the list views add about 8 bytes per entry more)."""
    names = ("kind", "status", "src", "dst", "ekind", "at", "indptr", "rindptr", "rindices")
    return sum(getattr(snap, n).nbytes for n in names)


def bench_updates(tg: TrustGraph, policy: Policy, seeds: list[str], rng, count: int) -> dict:
    """Random new vouches and revocations; each followed by one decision. At the end the
    patched decision is compared with a fresh computation on the same graph."""
    snap = tg.snapshot
    ids = snap.ids
    modes: dict[str, int] = {}
    upd, query, accept = [], [], []
    for step in range(count):
        snap = tg.snapshot
        if step % 2 == 0:
            a, b = (int(x) for x in rng.integers(0, snap.n, size=2))
            if a == b:
                continue
            _, dt = timed(tg.vouch, ids[a], ids[b])
            probe = ids[b]
        else:
            e = int(rng.integers(0, snap.m))
            a, b = int(snap.src[e]), int(snap.dst[e])
            _, dt = timed(tg.revoke, ids[a], ids[b])
            probe = ids[b]
        upd.append(dt)
        modes[tg.stats.last["mode"]] = modes.get(tg.stats.last["mode"], 0) + 1
        _, da = timed(tg._acceptance, policy, seeds)  # who is accepted: the decision itself
        _, dq = timed(tg.vet, probe, policy, seeds)  # then its reasons and explanation paths
        accept.append(da)
        query.append(da + dq)
    out = {
        "updates": summary(upd),
        "decision_after_update": summary(query),
        "acceptance_after_update": summary(accept),
        "modes": modes,
        "flow_recomputes": tg.stats.flow_recomputes,
        "literal_reruns": tg.stats.literal_reruns,
    }
    live = [e.live for e in tg._cache.values() if e.live is not None]
    if live:
        out["layer_fallbacks"] = sum(x.fallbacks for x in live)
    fresh = TrustGraph.from_snapshot(tg.snapshot)
    out["equals_fresh"] = tg.accepted(policy, seeds) == fresh.accepted(policy, seeds)
    return out


def nx_core_rule(g: nx.DiGraph, seeds, policy: Policy) -> tuple[int, int]:
    """The core rule written plainly with networkx: closure, then the two flows' values."""
    depth = nx.multi_source_dijkstra_path_length(g, set(seeds))  # unit weights: hops
    core = set(seeds) | {v for s in seeds for v in g.successors(s)}
    frontier, count = list(core), {}
    while frontier:
        nxt = []
        for u in frontier:
            for v in g.successors(u):
                count[v] = count.get(v, 0) + 1
                if v not in core and count[v] >= policy.core_vouches:
                    core.add(v)
                    nxt.append(v)
        frontier = nxt

    def flow(sources, supply, cap):
        net = nx.DiGraph()
        for v in sources:
            if supply(v) > 0:
                net.add_edge("SRC", ("out", v), capacity=supply(v))
        for v in depth:
            if v in sources:
                continue
            net.add_edge(("in", v), "SINK", capacity=1)
            if cap > 1:
                net.add_edge(("in", v), ("out", v), capacity=cap - 1)
        for a, b in g.edges:
            if a in depth and b in depth and b not in sources:
                net.add_edge(("out", a), ("in", b))
        net.add_nodes_from(["SRC", "SINK"])
        return nx.maximum_flow_value(net, "SRC", "SINK")

    b = policy.fakes_per_member
    first = flow(core & set(depth), lambda v: b, policy.member_capacity)
    near = {v for v, d in depth.items() if d <= 1}
    f = policy.flat_capacity
    second = flow(near, lambda v: f - 1 if depth[v] == 1 else 0, f)
    return first, second


def bench_networkx(tg, pairs, policy: Policy, seeds, accepted) -> dict:
    out: dict = {}
    snap = tg.snapshot
    ids = snap.ids

    def build():
        g = nx.DiGraph()
        g.add_nodes_from(ids)
        g.add_edges_from(
            zip(
                [ids[i] for i in snap.src.tolist()],
                [ids[i] for i in snap.dst.tolist()],
                strict=True,
            )
        )
        return g

    g, t = timed(build)
    out["load_s"] = round(t, 3)
    s, t2 = pairs[0]
    _, t = timed(lambda: nx.has_path(g, s, t2) and nx.shortest_path(g, s, t2))
    out["shortest_path_one_call_s"] = round(t, 4)
    _, t = timed(
        lambda: list(nx.node_disjoint_paths(g, s, t2, cutoff=2)) if nx.has_path(g, s, t2) else []
    )
    out["disjoint_k2_one_call_s"] = round(t, 3)
    out["disjoint_k2_pair"] = [s, t2]

    def nx_flow():
        depth = nx.single_source_shortest_path_length(
            nx.DiGraph([("SUPER", x) for x in seeds] + list(g.edges)),
            "SUPER",
            cutoff=policy.max_depth + 1,
        )
        net = nx.DiGraph()
        cap = {m: policy.capacity_at(d - 1) for m, d in depth.items() if m != "SUPER"}
        for x in seeds:
            net.add_edge("SRC", ("in", x), capacity=cap[x])
        for m, c in cap.items():
            net.add_edge(("in", m), "SINK", capacity=1)
            if c > 1:
                net.add_edge(("in", m), ("out", m), capacity=c - 1)
        for a, b in g.edges:
            if cap.get(a, 0) > 1 and b in cap:
                net.add_edge(("out", a), ("in", b))
        return nx.maximum_flow_value(net, "SRC", "SINK")

    value, t = timed(nx_flow)
    out["flow_one_call_s"] = round(t, 3)
    out["flow_value_agrees"] = value == int(tg.flow_accepted(policy, seeds).__len__())
    (first, second), t = timed(nx_core_rule, g, seeds, Policy())
    out["core_rule_one_call_s"] = round(t, 3)
    # the updates above changed the graph: compare with the rule on the graph as it is now
    now = compute(snap, Policy(), seed_numbers(snap, tuple(seeds)))
    parts, near = now.core, (now.depth >= 0) & (now.depth <= 1)
    out["core_flow_value_agrees"] = first == int((parts.by_core & ~parts.core).sum())
    out["safety_net_value_agrees"] = second == int((parts.by_flat & ~near).sum())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--no-networkx", action="store_true")
    ap.add_argument("--updates", type=int, default=200, help="updates under the core rule")
    ap.add_argument(
        "--graphs", default="epinions,synthetic,advogato", help="comma-separated subset"
    )
    args = ap.parse_args()
    graphs = set(args.graphs.split(","))
    result: dict = {
        "notes": [
            "load_s: file to array snapshot; load_ready_s adds the list views path searches use",
            "shortest_path / disjoint_k2: random (source with out-edges, target with in-edges)"
            " pairs, unreachable ones included",
            "flow_recompute_s: Advogato max flow (expert schedule) from the 4 members with"
            " most vouches given",
            "core_rule: the default policy; full_decision_s is everything accepted() does"
            " from a cold cache (closure, both flows, the literal rules)",
            "incremental.updates: one vouch or revocation, applied to the cached decisions;"
            " modes counts updates that kept the flow (incremental) or dropped it;"
            " layer_fallbacks: core-rule layers (distances, core) grown afresh;"
            " equals_fresh: the patched accepted set equals a fresh computation's",
            "decision_after_update: the next vet(), including any lazy recompute;"
            " acceptance_after_update: its first part, who is accepted (the rest of vet()"
            " is the reasons and the explanation paths)",
            "networkx: one call each, on the same data, after our measurements",
        ],
        "targets": {
            "load_s": 1.0,
            "shortest_path_p99_ms": 5.0,
            "disjoint_k2_median_ms": 50.0,
            "disjoint_k2_max_ms": 1000.0,
            "flow_recompute_s": 1.0,
            "core_rule_full_decision_s": 2.0,
            "decision_after_update_p99_ms": 50.0,
        },
    }
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if "epinions" in graphs:
        result["epinions"] = bench_graph(
            args.data / "soc-sign-epinions.txt.gz", args.queries, updates=args.updates
        )
    if "synthetic" in graphs:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "synthetic-100k-1m.csv"
            synthetic(path)
            result["synthetic"] = bench_graph(path, args.queries, "snap", updates=args.updates)
    if "advogato" in graphs:
        result["advogato"] = bench_graph(
            args.data / "advogato-graph-2014-06.dot",
            args.queries,
            seeds=list(ADVOGATO_SEEDS),
            updates=args.updates,
        )
    result["rss_peak_before_networkx_mb"] = round(peak_rss_mb(), 1)
    for name in ("epinions", "synthetic", "advogato"):  # networkx last: not in our peak
        if name not in result:
            continue
        nx_args = result[name].pop("_nx_args")
        if not args.no_networkx:
            result[name]["networkx"] = bench_networkx(*nx_args)
        del nx_args
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
