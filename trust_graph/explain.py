"""Why the core rule accepted or refused a member, in words a member or staff can act on.

A refusal names the capacity that ran out (which vouchers, how much of it they already
pass on to how many others) and what would admit the member: one more vouch from a core
member with capacity to spare, or enough core vouches to become core. See docs/trust.md.
"""

from __future__ import annotations

import numpy as np

from trust_graph.flow import CoreParts, FlowResult
from trust_graph.model import Policy, Reason
from trust_graph.snapshot import Snapshot

LISTED = 4  # vouchers or suggestions named in one message


def accepted_reason(snap: Snapshot, policy: Policy, flow: FlowResult, i: int) -> Reason:
    parts = _parts(flow)
    member = snap.ids[i]
    if parts.core[i]:
        j = int(parts.core_vouchers[i])
        how = (
            f"vouched for by {j} core members (of {policy.core_vouches} needed)"
            if j >= policy.core_vouches
            else "vouched for by a seed"
        )
        return Reason("flow_accepted", f"{member} is a core member: {how}.")
    return Reason(
        "flow_accepted",
        f"the trust flow from the core reaches {member} (distance {int(flow.depth[i])}).",
    )


def refusal_reason(snap: Snapshot, policy: Policy, flow: FlowResult, i: int) -> Reason:
    parts = _parts(flow)
    member = snap.ids[i]
    b = policy.fakes_per_member
    vouchers = _vouchers(snap, flow, i)
    core_v = [u for u in vouchers if parts.core[u]]
    need = policy.core_vouches
    if not parts.by_core[i]:
        listed = ", ".join(_describe(snap, parts, u, b) for u in vouchers[:LISTED])
        more = f" and {len(vouchers) - LISTED} more" if len(vouchers) > LISTED else ""
        spare = _spare(snap, parts, policy, i, vouchers)
        hint = (
            f"one more vouch from a core member with capacity to spare "
            f"({spare[0]} such, e.g. {', '.join(snap.ids[u] for u in spare[1])})"
            if spare[0]
            else "one more vouch from a core member (none has capacity to spare now)"
        )
        return Reason(
            "no_flow",
            f"{member} is not core ({len(core_v)} of the {need} core vouches needed) and the "
            f"trust flow does not reach them: a voucher passes at most {b} on, and none of "
            f"theirs has any left for them — {listed}{more}. What would admit them: {hint}, "
            f"or vouches from {need - len(core_v)} more core "
            f"member{'' if need - len(core_v) == 1 else 's'}, which makes them core.",
        )
    f = policy.flat_capacity
    return Reason(
        "no_flow",
        f"the core flow reaches {member}, but the safety net does not: every path from the "
        f"seeds to them runs through members who already pass their {f - 1} units on to "
        f"others. What would admit them: a vouch from a member nearer the seeds.",
    )


def _parts(flow: FlowResult) -> CoreParts:
    if flow.core is None:
        raise ValueError("explanations of the core rule need a core-rule flow")
    return flow.core


def _vouchers(snap: Snapshot, flow: FlowResult, i: int) -> list[int]:
    """Reached members who may pass trust and vouch for ``i``, core ones first."""
    preds = snap.rindices[snap.rindptr[i] : snap.rindptr[i + 1]]
    preds = preds[(flow.depth[preds] >= 0) & snap.passable[preds]]
    core = flow.core.core if flow.core is not None else np.zeros(snap.n, bool)
    return sorted(preds.tolist(), key=lambda u: (not core[u], u))


def _describe(snap: Snapshot, parts: CoreParts, u: int, b: int) -> str:
    passed, name = int(parts.passed[u]), snap.ids[u]
    if parts.core[u]:
        if passed >= b:
            return f"{name} (core, capacity used up: passes {passed} of {b} on to others)"
        return f"{name} (core, passes {passed} of {b} on)"
    if not parts.by_core[u]:
        return f"{name} (not accepted: no trust to pass on)"
    if passed == 0:
        return f"{name} (not core, receives only its own unit: passes nothing on)"
    return f"{name} (not core, passes on the {passed} unit{'' if passed == 1 else 's'} it receives)"


def _spare(
    snap: Snapshot, parts: CoreParts, policy: Policy, i: int, vouchers: list[int]
) -> tuple[int, list[int]]:
    """Core members who could still pass a unit on: how many, and a few near ``i``."""
    spare = parts.core & snap.passable & (parts.passed < policy.fakes_per_member)
    spare[i] = False
    total = int(spare.sum())
    if not total:
        return 0, []
    near: list[int] = []
    for u in vouchers:  # those who vouch for the member's vouchers know the member best
        preds = snap.rindices[snap.rindptr[u] : snap.rindptr[u + 1]]
        near += [int(w) for w in preds[spare[preds]].tolist() if w not in near]
    if len(near) < LISTED:
        near += [int(w) for w in np.flatnonzero(spare)[: LISTED * 2].tolist() if w not in near]
    return total, near[:LISTED]
