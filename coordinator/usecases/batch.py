"""Batch routing: when many open requests compete for few providers, one global
assignment (urgent first, maximum coverage) instead of request-by-request greed.

The solver runs in a worker thread (it is CPU-bound); the proposals it picks are then
written exactly as single routing writes them, capacity re-checked under row locks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa

from coordinator import routing
from coordinator.domain import RequestState
from coordinator.store.schema import proposals, requests
from coordinator.usecases import matching, rows, validate
from coordinator.usecases.context import Context
from coordinator.usecases.unit import Tx


@dataclass(frozen=True)
class BatchRouteResult:
    proposals: tuple[str, ...]
    unmatched: tuple[str, ...]  # no eligible provider at all: staff were told
    waiting: tuple[str, ...]  # candidates exist but their capacity went to other requests


async def route_open(ctx: Context, tx: Tx) -> BatchRouteResult:
    query = (
        sa.select(requests)
        .where(requests.c.state == RequestState.OPEN.value)
        .order_by(requests.c.filed_at, requests.c.id)
    )
    if tx.conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    open_requests = [
        r
        for r in map(rows.request_from_row, (await tx.conn.execute(query)).all())
        if validate.is_us(r.region) and r.partner
    ]
    if not open_requests:
        return BatchRouteResult((), (), ())
    tried = (await tx.conn.execute(sa.select(proposals.c.request, proposals.c.provider))).all()
    exclude: dict[str, set[str]] = {}
    for request_id, provider in tried:
        exclude.setdefault(request_id, set()).add(provider)
    # The solver takes one trust view per provider, and "community first" depends on the
    # asking partner, so each partner's requests are solved together; a later group sees
    # the capacity an earlier one used.
    made: list[str] = []
    unmatched: list[str] = []
    waiting: list[str] = []
    for partner in sorted({r.partner for r in open_requests if r.partner}):
        group = [r for r in open_requests if r.partner == partner]
        profiles, partner_views = await matching.profiles_for(ctx, tx, group[0])
        assignment = await asyncio.to_thread(
            routing.batch_assign,
            [matching.request_profile(r) for r in group],
            profiles,
            partner_views,
            {k: frozenset(v) for k, v in exclude.items()},
        )
        for req in group:
            candidate = assignment.candidates.get(req.id)
            if req.id in assignment.assigned and candidate is not None:
                if await matching.has_room(tx, candidate.provider):
                    result = await matching.create_proposal(
                        ctx, tx, req, candidate, partner_views[candidate.provider]
                    )
                    if result.proposal is not None:  # a created proposal always has its id
                        made.append(result.proposal)
                    continue
                waiting.append(req.id)
            elif assignment.unassigned.get(req.id) is routing.Unassigned.NO_CANDIDATE:
                await matching.mark_unmatched(ctx, tx, req)
                unmatched.append(req.id)
            else:
                waiting.append(req.id)
    tx.audit("routing.batch", "open_requests", proposals=len(made), unmatched=len(unmatched))
    return BatchRouteResult(tuple(made), tuple(unmatched), tuple(waiting))
