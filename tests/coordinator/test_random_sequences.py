"""Random sequences of valid and invalid use-case calls keep the invariants:
no provider over capacity, no engagement without its approvals, one live proposal per
request at most, engaged requests have exactly one open engagement, audit chain intact.
Any failure other than a typed DomainError is a bug."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import sqlalchemy as sa

from coordinator import audit
from coordinator.domain import DomainError, Urgency
from coordinator.store.schema import engagements, members, proposals, providers, requests
from tests.coordinator.conftest import network, route

SKILLS = ["forensics", "training", "malware", "audit"]
STEPS = 45


async def _ids(c, query) -> list[str]:
    async with c.engine.connect() as conn:
        return list((await conn.execute(query)).scalars())


async def _check(c) -> None:
    async with c.engine.connect() as conn:
        caps = dict((r.id, r.capacity) for r in await conn.execute(sa.select(providers)))
        props = (await conn.execute(sa.select(proposals))).all()
        engs = (await conn.execute(sa.select(engagements))).all()
        reqs = (await conn.execute(sa.select(requests))).all()
    by_id = {p.id: p for p in props}
    load = Counter(p.provider for p in props if p.state == "pending")
    load.update(e.provider for e in engs if e.state == "open")
    for provider, n in load.items():
        assert n <= caps[provider], f"{provider} over capacity"
    for e in engs:
        p = by_id[e.proposal]
        assert p.state in ("approved", "cancelled")
        assert set(p.approvals_needed) <= set(p.approvals), "engagement without approvals"
    live = Counter(p.request for p in props if p.state == "pending")
    assert all(n == 1 for n in live.values())
    open_engs = Counter(e.request for e in engs if e.state == "open")
    for r in reqs:
        assert open_engs.get(r.id, 0) == (1 if r.state == "engaged" else 0)
        assert (live.get(r.id, 0) == 1) == (r.state == "proposed")
    assert await audit.verify(c.engine, c.audit_key) is None


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_sequences_keep_invariants(coord, clock, seed):
    c = coord
    rnd = random.Random(seed)
    await network(c)
    for i in range(4):
        provider = f"@x{i}:hs"
        await c.add_provider(provider, rnd.sample(SKILLS, 2), ["en"], capacity=rnd.randint(1, 2))
        await c.vouch(rnd.choice(["alpha", "beta"]), provider)
        await c.vet(provider)

    async def pick(query, fallback: str) -> str:
        found = await _ids(c, query)
        return rnd.choice(found) if found and rnd.random() < 0.9 else fallback

    ops = 0
    refused = Counter()
    for step in range(STEPS):
        op = rnd.choice(
            [
                "file",
                "file",
                "route",
                "route",
                "approve",
                "approve",
                "decline",
                "close",
                "review",
                "remove",
                "refuse",
                "sla",
                "vouch",
            ]
        )
        try:
            if op == "file":
                await c.file_request(
                    rnd.choice(["alpha", "alpha", "beta"]),
                    rnd.choice(["o1", "o1", "nope"]),
                    rnd.sample(SKILLS, 1),
                    ["en"],
                    urgency=rnd.choice(list(Urgency)),
                    event_id=f"$f{rnd.randint(0, 30)}",  # some duplicates
                )
            elif op == "route":
                await route(c, await pick(sa.select(requests.c.id), "r-missing"))
            elif op in ("approve", "decline"):
                proposal = await pick(sa.select(proposals.c.id), "p-missing")
                who = rnd.choice(["alpha", "beta", "globe"])
                if op == "approve":
                    await c.approve(proposal, who)
                else:
                    await c.decline(proposal, who)
            elif op == "close":
                await c.close(await pick(sa.select(engagements.c.id), "e-missing"))
            elif op == "review":
                await c.review(
                    await pick(sa.select(engagements.c.id), "e-missing"),
                    rnd.randint(0, 5),
                    rnd.randint(1, 5),
                    rnd.randint(1, 5),
                    code_of_conduct_violation=rnd.random() < 0.2,
                )
            elif op == "remove":
                query = sa.select(members.c.id).where(members.c.kind == "provider")
                await c.remove_member(await pick(query, "@ghost:hs"), "code_of_conduct")
            elif op == "refuse":
                await c.refuse(await pick(sa.select(requests.c.id), "r-missing"), "hate_agenda")
            elif op == "sla":
                clock.advance(minutes=rnd.randint(10, 90))
                await c.check_sla()
            elif op == "vouch":
                query = sa.select(members.c.id).where(members.c.kind == "provider")
                await c.vouch(rnd.choice(["alpha", "beta", "@p1:hs"]), await pick(query, "o1"))
            ops += 1
        except DomainError as exc:
            refused[exc.code] += 1
        if step % 15 == 14:
            await _check(c)
    await _check(c)
    assert ops > 0 and refused, (ops, refused)
