"""Benchmark of the coordinator's use cases on SQLite and PostgreSQL; prints one JSON object.

Each use case is one transaction with its audit entry, outbox rows and idempotency key.
The baseline is the plain cost of a committed one-row INSERT on the same database and
engine, so the figures say what the use-case machinery costs on top of a bare write.

    .venv/bin/python bench/coordinator.py [--cases N] [--postgres URL] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the package it measures: keep its own folder off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import asyncpg  # noqa: E402

from coordinator import audit  # noqa: E402
from coordinator.config import Config, PartnerConfig, StaffConfig  # noqa: E402
from coordinator.sealing import PublicSealer, generate_keypair  # noqa: E402
from coordinator.store import create_engine  # noqa: E402
from coordinator.store.schema import meta_kv  # noqa: E402
from coordinator.usecases import Coordinator  # noqa: E402


def _config(data_dir: str) -> Config:
    return Config(
        data_dir=data_dir,
        staff=StaffConfig(room="!staff:bench"),
        partners=(
            PartnerConfig("alpha", rooms=("!alpha:bench",)),
            PartnerConfig("beta", rooms=("!beta:bench",)),
        ),
    )


def _rate(samples: list[float]) -> dict[str, float]:
    total = sum(samples)
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "per_second": round(len(samples) / total, 1) if total else 0.0,
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
    }


async def _timed(samples: list[float], coro):
    start = time.perf_counter()
    result = await coro
    samples.append(time.perf_counter() - start)
    return result


async def _baseline(url: str, n: int) -> dict[str, float]:
    """One committed single-row INSERT per transaction: the floor for any use case."""
    engine = create_engine(url)
    samples: list[float] = []
    try:
        for i in range(n):
            start = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(meta_kv.insert().values(key=f"bench-{i}", value="x"))
            samples.append(time.perf_counter() - start)
    finally:
        await engine.dispose()
    return _rate(samples)


async def _run(url: str, cases: int, data_dir: str) -> dict:
    sealer = PublicSealer(generate_keypair().public)
    c = await Coordinator.open(_config(data_dir), url=url, sealer=sealer)
    timings: dict[str, list[float]] = {
        k: []
        for k in (
            "add_provider",
            "vouch",
            "vet",
            "add_organization",
            "file_request",  # filed and routed: one use case
            "approve",
            "close",
            "review",
        )
    }
    try:
        providers = max(10, cases // 10)
        for i in range(providers):
            pid = f"@prov{i}:bench"
            await _timed(
                timings["add_provider"],
                c.add_provider(pid, ["forensics", "training"], ["en"], ["US-CA"], capacity=50),
            )
            await _timed(timings["vouch"], c.vouch("alpha" if i % 2 else "beta", pid))
            await _timed(timings["vet"], c.vet(pid))
        orgs = max(5, cases // 20)
        for i in range(orgs):
            await _timed(
                timings["add_organization"],
                c.add_organization(f"org{i}", "alpha", "US-CA", name=f"Org {i}", contact="x@y.z"),
            )
            await c.vouch("alpha", f"org{i}")
            await c.vet(f"org{i}")
        engagements = []
        for i in range(cases):
            filed = await _timed(
                timings["file_request"],
                c.file_request(
                    "alpha",
                    f"org{i % orgs}",
                    ["forensics"],
                    ["en"],
                    note="bench note",
                    event_id=f"$bench-{i}",
                ),
            )
            routed = filed
            if routed.proposal is None:
                continue
            for partner in routed.approvals_needed:
                approved = await _timed(timings["approve"], c.approve(routed.proposal, partner))
            if approved.engagement:
                engagements.append(approved.engagement)
        for engagement in engagements:
            await _timed(timings["close"], c.close(engagement))
            await _timed(timings["review"], c.review(engagement, 4, 4, 4))
        start = time.perf_counter()
        broken = await audit.verify(c.engine, c.audit_key)
        verify_s = time.perf_counter() - start
        entries = await audit.count(c.engine)
    finally:
        await c.aclose()
    all_samples = [s for v in timings.values() for s in v]
    return {
        "use_cases": {k: _rate(v) for k, v in timings.items() if v},
        "all_use_cases": _rate(all_samples),
        "audit": {"entries": entries, "intact": broken is None, "verify_s": round(verify_s, 3)},
    }


async def _batch(url: str, n_requests: int, n_providers: int, data_dir: str) -> dict:
    """Batch routing of many open requests: rows bulk-inserted, then one ``route_open``."""
    from datetime import UTC, datetime, timedelta

    from coordinator.store.schema import members, organizations, providers, requests, vouches

    c = await Coordinator.open(_config(data_dir), url=url)
    now = datetime.now(UTC)
    skills = ["forensics", "training", "malware", "audit", "phishing", "devices"]
    regions = ["US-CA", "US-NY", "US-TX", "US-IL"]
    try:
        async with c.engine.begin() as conn:
            await conn.execute(
                members.insert(),
                [
                    {
                        "id": f"@bp{i}:bench",
                        "kind": "provider",
                        "status": "active",
                        "created_at": now,
                    }
                    for i in range(n_providers)
                ]
                + [{"id": "borg", "kind": "organization", "status": "active", "created_at": now}],
            )
            await conn.execute(
                providers.insert(),
                [
                    {
                        "id": f"@bp{i}:bench",
                        "skills": [skills[i % 6], skills[(i + 1) % 6]],
                        "languages": ["en"],
                        "regions": [regions[i % 4]],
                        "capacity": 1 + i % 3,
                        "tier": "primary",
                        "organizations": [],
                    }
                    for i in range(n_providers)
                ],
            )
            await conn.execute(
                organizations.insert().values(
                    id="borg", partner="alpha", region="US-CA", areas=[], archive_consent=False
                )
            )
            await conn.execute(
                vouches.insert(),
                [
                    {
                        "author": "alpha" if i % 2 else "beta",
                        "target": f"@bp{i}:bench",
                        "kind": "vouch",
                        "at": now,
                    }
                    for i in range(n_providers)
                ],
            )
            await conn.execute(
                requests.insert(),
                [
                    {
                        "id": f"r-b{i:06d}",
                        "organization": "borg",
                        "partner": "alpha",
                        "skills": [skills[i % 6]],
                        "languages": ["en"],
                        "region": regions[(i * 7) % 4],
                        "urgency": i % 4,
                        "state": "open",
                        "filed_at": now - timedelta(seconds=i),
                    }
                    for i in range(n_requests)
                ],
            )
        async with c.engine.connect() as conn:
            await c.trust.load(conn)
        accepted = len(c.trust.accepted())
        start = time.perf_counter()
        result = await c.route_open()
        seconds = time.perf_counter() - start
    finally:
        await c.aclose()
    return {
        "requests": n_requests,
        "providers": n_providers,
        "accepted_members": accepted,
        "proposals": len(result.proposals),
        "waiting": len(result.waiting),
        "unmatched": len(result.unmatched),
        "route_open_s": round(seconds, 2),
    }


async def _postgres_db(admin_url: str) -> tuple[str, str]:
    name = f"dsx_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_url.rsplit("/", 1)[0]
    return name, "postgresql+asyncpg://" + base.split("://", 1)[1] + "/" + name


async def _drop(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict:
    out: dict = {"cases": args.cases}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        run = await _run(url, args.cases, tmp)
        run["baseline_insert"] = await _baseline(url, 200)
        out["sqlite"] = run
        if args.batch_requests:
            out["sqlite"]["batch_routing"] = await _batch(
                f"sqlite+aiosqlite:///{tmp}/batch.sqlite3",
                args.batch_requests,
                args.batch_providers,
                tmp,
            )
        if not args.no_postgres:
            name, pg_url = await _postgres_db(args.postgres)
            try:
                run = await _run(pg_url, args.cases, tmp)
                run["baseline_insert"] = await _baseline(pg_url, 200)
                out["postgresql"] = run
            finally:
                await _drop(args.postgres, name)
    for db in ("sqlite", "postgresql"):
        if db in out:
            r = out[db]
            r["use_case_cost_vs_insert"] = round(
                r["all_use_cases"]["p50_ms"] / max(r["baseline_insert"]["p50_ms"], 1e-6), 2
            )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--batch-requests", type=int, default=2000)
    parser.add_argument("--batch-providers", type=int, default=400)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
