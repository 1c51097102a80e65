"""Refusals under the core rule say which capacity ran out and what would admit them."""

from __future__ import annotations

from trust_graph import EdgeKind, MemberKind, MemberStatus, Policy, TrustGraph

P = Policy(fakes_per_member=2, colluders=1)  # two core vouches make a member core


def graph() -> TrustGraph:
    """Seed s vouches for a and b (core); a vouches for five applicants, b for nobody."""
    tg = TrustGraph()
    people = ["s", "a", "b"] + [f"f{i}" for i in range(5)]
    tg.extend(
        [(m, MemberKind.PROVIDER, MemberStatus.ACTIVE) for m in people],
        [("s", "a", EdgeKind.VOUCH, None), ("s", "b", EdgeKind.VOUCH, None)]
        + [("a", f"f{i}", EdgeKind.VOUCH, None) for i in range(5)],
    )
    return tg


def refused(tg: TrustGraph) -> list[str]:
    accepted = tg.accepted(P, ["s"])
    return sorted(f"f{i}" for i in range(5) if f"f{i}" not in accepted)


def test_refusal_names_the_exhausted_capacity_and_a_member_with_spare():
    tg = graph()
    out = refused(tg)
    assert len(out) == 3  # a passes two on, keeps one for itself
    d = tg.vet(out[0], P, ["s"])
    assert not d.eligible and "no_flow" in d.codes
    (message,) = [r.message for r in d.reasons if r.code == "no_flow"]
    assert "1 of the 2 core vouches needed" in message
    assert "a (core, capacity used up: passes 2 of 2 on to others)" in message
    assert "(2 such, e.g. s, b)" in message  # core members with nothing passed on yet


def test_following_the_advice_admits_the_member():
    tg = graph()
    who = refused(tg)[0]
    tg.vouch("b", who)  # one more vouch from the suggested core member
    d = tg.vet(who, P, ["s"])
    assert d.eligible and "flow_accepted" in d.codes
    assert "is a core member" in next(r.message for r in d.reasons if r.code == "flow_accepted")


def test_a_voucher_without_trust_is_named_as_such():
    tg = graph()
    tg.add_member("x", MemberKind.PROVIDER, MemberStatus.APPLICANT)
    last = refused(tg)[-1]
    tg.vouch(last, "x")
    (message,) = [r.message for r in tg.vet("x", P, ["s"]).reasons if r.code == "no_flow"]
    assert f"{last} (not accepted: no trust to pass on)" in message


def test_blast_radius_counts_accepted_and_waiting_dependents():
    tg = graph()
    radius = tg.blast_radius("a", P, ["s"])
    assert len(radius.accepted) == 2 and len(radius.waiting) == 3
    assert set(radius.accepted) | set(radius.waiting) == {f"f{i}" for i in range(5)}
    assert radius.passes_on == 2 == radius.bound
    assert tg.blast_radius("b", P, ["s"]).accepted == ()
