"""Routing latency as a partner sees it; prints one JSON object.

Time from a partner's ``!dsx request`` to the decrypted proposal in the partner's client,
p50 and p95, beside the floor: an echo bot's round trip (user sends, bot replies through the
same inbox/outbox machinery, user decrypts) on the same homeserver, measured in the same
run. Locally (partner and bot on one homeserver) and federated (partner on the second).

Also sustained throughput: requests from 20 partner rooms at once, and how many proposals
arrive (nothing may be lost).

    .venv/bin/python bench/routing.py [--samples N] [--rooms 20] [--per-room 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This folder holds a file named like the ``coordinator`` package: keep it off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench._harness import WARMUP, echo_floor, proposals, summary  # noqa: E402
from partner_bots.homeserver.synapse import Homeserver, start_federation  # noqa: E402
from tests.workflow.harness import (  # noqa: E402
    Member,
    PartnerSpec,
    join_bot,
    make_config,
    start_coordinator,
)


async def routing(hs_bot: Homeserver, user: Member, root: Path, n: int) -> list[float]:
    """Request → decrypted proposal, through the whole coordinator (``serve``)."""
    room = await user.create_encrypted_room(invite=[])
    password = secrets.token_urlsafe(12)
    bot_user = await hs_bot.register(f"dsx-{secrets.token_hex(3)}", password)
    config = make_config(
        hs_bot,
        bot_user.user_id,
        password,
        root / "coordinator",
        [PartnerSpec("alpha", room, (user.user_id,))],
    )
    coordinator = await start_coordinator(config)
    try:
        core = coordinator.running.coordinator
        for i in range(5):
            provider = f"@bench-provider-{i}:{hs_bot.server_name}"
            await core.add_provider(provider, ["phishing"], ["en"], ["US-CA"], capacity=50)
            await core.vouch("alpha", provider)
            await core.vet(provider)
        await core.add_organization("bench-org", "alpha", region="US-CA")
        await core.vouch("alpha", "bench-org")
        await core.vet("bench-org")
        await join_bot(user, room, bot_user.user_id)
        samples = []
        for i in range(n + WARMUP):
            seen = len(proposals(user, room, bot_user.user_id))
            start = time.perf_counter()
            await user.send_text(room, "!dsx request bench-org skills=phishing langs=en")
            await user.sync_until(
                lambda s=seen: len(proposals(user, room, bot_user.user_id)) > s,
                60,
                "a proposal",
            )
            if i >= WARMUP:
                samples.append((time.perf_counter() - start) * 1000)
        return samples
    finally:
        await coordinator.shutdown()


async def sustained(
    hs_bot: Homeserver, user: Member, root: Path, rooms: int, per_room: int
) -> dict[str, Any]:
    """Requests from ``rooms`` partner rooms at once: throughput, and that none is lost."""
    room_ids = [await user.create_encrypted_room(invite=[]) for _ in range(rooms)]
    password = secrets.token_urlsafe(12)
    bot_user = await hs_bot.register(f"dsx-{secrets.token_hex(3)}", password)
    partners = [PartnerSpec(f"partner{i}", r, (user.user_id,)) for i, r in enumerate(room_ids)]
    config = make_config(hs_bot, bot_user.user_id, password, root / "sustained", partners)
    coordinator = await start_coordinator(config)
    try:
        core = coordinator.running.coordinator
        total = rooms * per_room
        for i in range((total + 49) // 50):
            provider = f"@bench-bulk-{i}:{hs_bot.server_name}"
            await core.add_provider(provider, ["phishing"], ["en"], ["US-CA"], capacity=50)
            for p in partners:
                await core.vouch(p.handle, provider)
            await core.vet(provider)
        for p in partners:
            await core.add_organization(f"org-{p.handle}", p.handle, region="US-CA")
            await core.vouch(p.handle, f"org-{p.handle}")
            await core.vet(f"org-{p.handle}")
        for r in room_ids:
            await join_bot(user, r, bot_user.user_id)
        start = time.perf_counter()
        for _ in range(per_room):
            for p in partners:
                await user.send_text(p.room, f"!dsx request org-{p.handle} skills=phishing")
        sent_s = time.perf_counter() - start

        def received() -> int:
            return sum(len(proposals(user, r, bot_user.user_id)) for r in room_ids)

        await user.sync_until(lambda: received() >= total, 300, "every proposal")
        elapsed = time.perf_counter() - start
        await user.sync(timeout_ms=500)  # settle: nothing extra arrives either
        return {
            "rooms": rooms,
            "requests": total,
            "proposals_received": received(),
            "lost": total - min(received(), total),
            "send_seconds": round(sent_s, 2),
            "seconds": round(elapsed, 2),
            "requests_per_second": round(total / elapsed, 1),
        }
    finally:
        await coordinator.shutdown()


async def measure(hs_bot: Homeserver, hs_user: Homeserver, root: Path, n: int) -> dict:
    user = await Member.create(hs_user, root / "clients", "partner")
    try:
        floor = await echo_floor(hs_bot, user, root, n)
        routed = await routing(hs_bot, user, root, n)
    finally:
        await user.close()
    f, r = summary(floor), summary(routed)
    return {
        "floor_echo_ms": f,
        "request_to_proposal_ms": r,
        "ratio_p50": round(r["p50"] / f["p50"], 2),
        "ratio_p95": round(r["p95"] / f["p95"], 2),
    }


async def main(samples: int, rooms: int, per_room: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="dsx-bench-routing-") as tmp:
        root = Path(tmp)
        servers = await start_federation(root / "homeservers")
        try:
            hs1, hs2 = servers
            local = await measure(hs1, hs1, root / "local", samples)
            federated = await measure(hs1, hs2, root / "federated", samples)
            user = await Member.create(hs1, root / "bulk-clients", "bulk")
            try:
                bulk = await sustained(hs1, user, root / "bulk", rooms, per_room)
            finally:
                await user.close()
        finally:
            for server in servers:
                await server.stop()
    return {
        "benchmark": "routing",
        "samples": samples,
        "warmup": WARMUP,
        "goal": "request_to_proposal p50 <= 1.5 x floor p50",
        "local": local,
        "federated": federated,
        "sustained": bulk,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--per-room", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.samples, args.rooms, args.per_room)), indent=2))
