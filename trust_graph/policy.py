"""Who is accepted: the literal vouching rules combined with the trust flow.

The flow is the core rule by default, the Advogato schedule when an expert sets one
(:mod:`trust_graph.flow`, docs/trust.md).

Acceptance is the least fixpoint grown from the seeds: a provider (or staff, or a partner
that is not a seed) needs the literal rule — a vouch from an accepted non-probation member
or ``provider_min_references`` references from distinct ones — *and* the flow. An
organization needs either a vouch from a seed partner (the partner's own intake) or
references from ``organization_min_references`` distinct accepted organizations that are
also vertex-disjoint paths from the seeds, so referees introduced by one member count once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trust_graph.flow import FlowResult, compute
from trust_graph.model import EDGE_CODES, KIND_CODES, EdgeKind, MemberKind, Policy
from trust_graph.paths import disjoint_paths
from trust_graph.snapshot import Snapshot, positions

VOUCH_CODE = EDGE_CODES.index(EdgeKind.VOUCH)
ORG_CODE = KIND_CODES.index(MemberKind.ORGANIZATION)


@dataclass(eq=False)
class Acceptance:
    seeds: np.ndarray  # member numbers of the usable seeds
    flow: FlowResult
    accepted: np.ndarray  # bool
    vouches: np.ndarray  # accepted non-probation vouchers per member
    references: np.ndarray  # accepted non-probation referees per member
    org_paths: dict[int, int]  # organization -> disjoint paths found (capped)
    introduced: np.ndarray  # bool: organization vouched by a seed partner
    wave: np.ndarray | None = None  # int64: when each was accepted (a derivation order)


def seed_numbers(snap: Snapshot, seeds: tuple[str, ...]) -> np.ndarray:
    index = snap.index
    nums = np.array(sorted(index[s] for s in seeds), dtype=np.int64)
    return nums[~snap.excluded[nums]] if nums.size else nums


def accept(
    snap: Snapshot, policy: Policy, seeds: np.ndarray, flow: FlowResult | None = None
) -> Acceptance:
    flow = flow if flow is not None else compute(snap, policy, seeds)
    return literal_fixpoint(snap, policy, seeds, flow)


def literal_fixpoint(
    snap: Snapshot, policy: Policy, seeds: np.ndarray, flow: FlowResult
) -> Acceptance:
    """Grow the accepted set from the seeds, one wave of newly accepted givers at a time.

    Each edge is counted once, when its author is accepted, so the cost is one pass over
    the edges however deep the network is.
    """
    n = snap.n
    is_seed = np.zeros(n, dtype=bool)
    is_seed[seeds] = True
    is_org = (snap.kind == ORG_CODE) & ~snap.excluded & ~is_seed
    candidates = flow.accepted & ~is_org & ~snap.excluded & ~is_seed
    is_vouch = snap.ekind == VOUCH_CODE
    introduced = np.zeros(n, dtype=bool)
    introduced[snap.dst[is_vouch & is_seed[snap.src]]] = True
    introduced &= is_org
    accepted = is_seed | introduced
    vouches = np.zeros(n, dtype=np.int64)
    references = np.zeros(n, dtype=np.int64)
    org_paths: dict[int, int] = {}
    need = policy.provider_min_references
    wave = np.where(accepted, 0, -1).astype(np.int64)
    step = 0
    givers = np.flatnonzero(accepted & snap.passable)
    while True:
        newly = givers[:0]
        if givers.size:
            edges = positions(snap.indptr, givers)
            targets = snap.dst[edges]
            vouched = is_vouch[edges]
            vouches += np.bincount(targets[vouched], minlength=n)
            references += np.bincount(targets[~vouched], minlength=n)
            touched = np.zeros(n, dtype=bool)
            touched[targets] = True
            ok = touched & ((vouches >= 1) | (references >= need))
            newly = np.flatnonzero(ok & candidates & ~accepted)
        if not newly.size:  # providers settled: organizations may now have their referees
            orgs = np.flatnonzero(_organizations(snap, policy, seeds, accepted, is_org, org_paths))
            newly = orgs[~accepted[orgs]]
            if not newly.size:
                break
        step += 1
        accepted[newly] = True
        wave[newly] = step
        givers = newly[snap.passable[newly]]
    return Acceptance(seeds, flow, accepted, vouches, references, org_paths, introduced, wave)


def patch_literal(
    snap: Snapshot,
    policy: Policy,
    acc: Acceptance,
    flow: FlowResult,
    edges: list[tuple[int, int, int, int]],
) -> Acceptance | None:
    """The fixpoint after a few vouches changed, from the one before; None when only
    growing it afresh settles it (organizations present, or a member losing the vouch or
    a member their acceptance was derived from without another derivation left).

    ``edges`` lists ``(u, v, old kind, new kind)`` with -1 for "no edge". Counts follow
    every change; losses are checked against the derivation order (``wave``): a member
    stays if vouchers accepted before them still admit them, which keeps the set the
    least fixpoint; gains then spread as in :func:`literal_fixpoint`.
    """
    if acc.wave is None:
        return None
    n = snap.n
    is_seed = np.zeros(n, dtype=bool)
    is_seed[acc.seeds] = True
    if bool(((snap.kind == ORG_CODE) & ~snap.excluded & ~is_seed).any()):
        return None
    accepted, wave = acc.accepted.copy(), acc.wave.copy()
    vouches, references = acc.vouches.copy(), acc.references.copy()
    candidates = flow.accepted & ~snap.excluded & ~is_seed
    passable = snap.passable
    need = policy.provider_min_references
    for u, v, old, new in edges:
        if accepted[u] and passable[u]:
            for kind, delta in ((old, -1), (new, 1)):
                if kind == VOUCH_CODE:
                    vouches[v] += delta
                elif kind >= 0:
                    references[v] += delta
    adj, ekind, indptr = snap.adj, snap.ekind, snap.indptr

    def spread(x: int, delta: int) -> None:
        lo = int(indptr[x])
        for j, y in enumerate(adj.oidx[lo : adj.optr[x + 1]]):
            if ekind[lo + j] == VOUCH_CODE:
                vouches[y] += delta
            else:
                references[y] += delta

    lost = np.flatnonzero(accepted & ~candidates & ~is_seed).tolist()
    check = {v for _, v, old, new in edges if old == VOUCH_CODE or (old >= 0 and new < 0)}
    for x in lost:
        accepted[x] = False
        if passable[x]:
            spread(x, -1)
            check.update(adj.oidx[adj.optr[x] : adj.optr[x + 1]])
    for y in check:
        if not accepted[y] or is_seed[y]:
            continue
        preds = snap.rindices[snap.rindptr[y] : snap.rindptr[y + 1]]
        early = preds[accepted[preds] & passable[preds] & (wave[preds] < wave[y])]
        kinds = [int(ekind[snap.edge_position(int(p), y)]) for p in early.tolist()]
        if VOUCH_CODE not in kinds and len(kinds) - kinds.count(VOUCH_CODE) < need:
            return None
    queue = [
        int(c)
        for c in np.flatnonzero(candidates & ~accepted).tolist()
        if vouches[c] >= 1 or references[c] >= need
    ]
    top = int(wave.max(initial=0))
    while queue:
        x = queue.pop()
        if accepted[x]:
            continue
        top += 1
        accepted[x], wave[x] = True, top
        if passable[x]:
            spread(x, 1)
            for y in adj.oidx[adj.optr[x] : adj.optr[x + 1]]:
                if candidates[y] and not accepted[y] and (vouches[y] >= 1 or references[y] >= need):
                    queue.append(y)
    return Acceptance(acc.seeds, flow, accepted, vouches, references, {}, acc.introduced, wave)


def _organizations(
    snap: Snapshot,
    policy: Policy,
    seeds: np.ndarray,
    accepted: np.ndarray,
    is_org: np.ndarray,
    org_paths: dict[int, int],
) -> np.ndarray:
    need = policy.organization_min_references
    referee = accepted & is_org & snap.passable
    counts = np.bincount(snap.dst[referee[snap.src]], minlength=snap.n)
    out = np.zeros(snap.n, dtype=bool)
    pending = np.flatnonzero(is_org & ~accepted & (counts >= need))
    if not pending.size or not seeds.size:
        return out
    inner = np.zeros(snap.n, dtype=bool)
    inner[seeds] = True
    inner |= referee
    inner_ok = inner.tolist()
    sources = seeds.tolist()
    for org in pending.tolist():
        found = len(
            disjoint_paths(snap.adj, sources, org, need, inner_ok=inner_ok, super_source=True).paths
        )
        org_paths[org] = found
        out[org] = found >= need
    return out
