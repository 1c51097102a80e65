"""No one writes a trust edge in another's name (docs/security.md, "Who may do what").

The attacks these pin: a member of partner alpha recorded ``org ref X from=beta``, which
wrote an edge authored by beta (a seed), got a Sybil accepted and downgraded beta's vouch
for a provider to a reference. The author of an edge is always the caller's own partner,
or an organization that partner brought in; every other author is refused with the same
answer as a member that does not exist, the refusal is audited, and nothing changes.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.domain import DomainError, NotFound
from coordinator.store.schema import audit_log, vouches
from coordinator.usecases.acting import Acting
from tests.coordinator.conftest import network

ANN = Acting("@ann:hs", "alpha")  # a listed member of alpha, speaking in alpha's room


async def _edges(c) -> list[tuple[str, str, str]]:
    async with c.engine.connect() as conn:
        rows = await conn.execute(sa.select(vouches.c.author, vouches.c.target, vouches.c.kind))
        return sorted(tuple(r) for r in rows)


async def _audit(c) -> list[tuple[str, str, str, dict]]:
    async with c.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                audit_log.c.actor, audit_log.c.action, audit_log.c.subject, audit_log.c.data
            ).order_by(audit_log.c.seq)
        )
        return [tuple(r) for r in rows]


async def _refused(c, attempt) -> DomainError:
    edges, audit_before = await _edges(c), await _audit(c)
    with pytest.raises(NotFound) as caught:
        await attempt()
    assert await _edges(c) == edges, "a refused edge changed the graph"
    after = await _audit(c)
    assert after[: len(audit_before)] == audit_before
    new = after[len(audit_before) :]
    assert [(a, act) for a, act, _, _ in new] == [(ANN.user, "refused")], new
    return caught.value


async def _unknown(c, attempt) -> DomainError:
    with pytest.raises(NotFound) as caught:
        await attempt()
    return caught.value


async def test_reference_in_another_partners_name_is_refused_like_an_unknown_org(coord):
    c = coord
    await network(c)
    await c.add_provider("@sybil:evil.example", ["forensics"], ["en"], ["US-CA"], capacity=3)

    forged = await _refused(c, lambda: c.reference(ANN, "@sybil:evil.example", on_behalf_of="beta"))
    unknown = await _unknown(
        c, lambda: c.reference(ANN, "@sybil:evil.example", on_behalf_of="nobody")
    )
    # The same answer, word for word, once the id is taken out: existence is not revealed.
    assert forged.code == unknown.code == "unknown_organization"
    assert forged.message.replace("beta", "X") == unknown.message.replace("nobody", "X")
    assert not (await c.vet("@sybil:evil.example")).eligible


async def test_another_partners_vouch_cannot_be_downgraded(coord):
    c = coord
    await network(c)
    assert ("beta", "@p2:hs", "vouch") in await _edges(c)
    await _refused(c, lambda: c.reference(ANN, "@p2:hs", on_behalf_of="beta"))
    await _refused(c, lambda: c.withdraw_vouch(ANN, "@p2:hs", on_behalf_of="beta"))
    assert ("beta", "@p2:hs", "vouch") in await _edges(c)
    assert (await c.vet("@p2:hs")).eligible


async def test_other_partners_organization_and_providers_cannot_be_spoken_for(coord):
    c = coord
    await network(c)
    await c.add_organization("o2", "beta", region="US-NY")
    await c.add_organization("o3", "alpha", region="US-CA")
    await _refused(c, lambda: c.reference(ANN, "o3", on_behalf_of="o2"))
    await _refused(c, lambda: c.reference(ANN, "o3", on_behalf_of="@p1:hs"))
    assert not any(t == "o3" for _, t, _ in await _edges(c))


async def test_own_organization_reference_records_author_and_who_entered_it(coord):
    c = coord
    await network(c)
    await c.add_organization("o3", "alpha", region="US-CA")
    result = await c.reference(ANN, "o3", on_behalf_of="o1")
    assert (result.author, result.target, result.kind) == ("o1", "o3", "reference")
    entries = [e for e in await _audit(c) if e[1] == "trust.reference"]
    assert entries == [
        (ANN.user, "trust.reference", "o3", {"author": "o1", "entered_by_partner": "alpha"})
    ]


async def test_own_vouch_is_authored_by_the_callers_partner(coord):
    c = coord
    await network(c)
    await c.add_provider("@p3:hs", ["training"], ["en"], ["US-CA"], capacity=1)
    result = await c.record_vouch(ANN, "@p3:hs")
    assert (result.author, result.target) == ("alpha", "@p3:hs")
    assert ("alpha", "@p3:hs", "vouch") in await _edges(c)
    removed = await c.withdraw_vouch(ANN, "@p3:hs")
    assert removed.author == "alpha"
    assert ("alpha", "@p3:hs", "vouch") not in await _edges(c)


async def test_a_caller_without_a_partner_records_no_edge(coord):
    c = coord
    await network(c)
    await c.add_provider("@p3:hs", ["training"], ["en"], ["US-CA"], capacity=1)
    edges = await _edges(c)
    with pytest.raises(DomainError) as caught:
        await c.record_vouch(Acting("@staff:hs", None, staff=True), "@p3:hs")
    assert caught.value.code == "not_a_partner_room"
    assert await _edges(c) == edges
