"""Use cases end to end on both databases: routing, approvals, engagements, reviews."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from coordinator import audit
from coordinator import notifications as n
from coordinator.domain import DomainError, IllegalTransition, Urgency
from coordinator.store.schema import audit_log, notations, requests, sealed
from tests.coordinator.conftest import network, route
from tests.harness.notices import notification, rendered


async def _count(c, table) -> int:
    async with c.engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


async def staff_notices(c, kind: str) -> list:
    """Queued staff-room notices of one kind (the vetting queue posts there too)."""
    return [
        m
        for m in await c.outbox.pending("!staff:hs")
        if rendered(m).get("org.dsx.staff", {}).get("kind") == kind
    ]


async def _status(c, member: str) -> str:
    async with c.engine.connect() as conn:
        from coordinator.usecases import rows

        return (await rows.member(conn, member)).status.value


async def test_vetting_moves_applicants(coord):
    await network(coord)
    assert await _status(coord, "@p1:hs") == "pod"
    assert await _status(coord, "o1") == "active"
    await coord.add_provider("@p3:hs", ["training"], ["en"], capacity=1)
    result = await coord.vet("@p3:hs", "alpha")
    assert not result.eligible
    assert "insufficient_references" in result.reasons
    assert await _status(coord, "@p3:hs") == "applicant"
    with pytest.raises(DomainError) as info:
        await coord.vouch("@p1:hs", "@p3:hs")
    assert info.value.code == "probation_cannot_vouch"


async def test_full_lifecycle_with_audit(coord):
    c = coord
    await network(c)
    filed = await c.file_request(
        "alpha",
        "o1",
        ["training"],
        ["en"],
        urgency=Urgency.HIGH,
        note="canary note",
        room="!alpha:hs",
    )
    routed = filed
    assert routed.provider == "@p1:hs"
    assert routed.approvals_needed == ("alpha",)
    assert routed.path == ("alpha", "@p1:hs")
    # Routing again (as the core does after a decline) names the same proposal.
    again = await route(c, filed.request)
    assert (again.proposal, again.created) == (routed.proposal, False)

    # The proposal goes to the room the request was filed in.
    pending = await c.outbox.pending("!alpha:hs")
    block = rendered(pending[-1])["org.dsx.proposal"]
    assert block["id"] == routed.proposal and block["status"] == "pending"

    approved = await c.approve(routed.proposal, "alpha")
    assert approved.state == "approved" and approved.engagement
    kinds = [m.kind for m in await c.outbox.pending(f"engagement:{approved.engagement}")]
    assert kinds == ["create_room", "notification"]

    closed = await c.close(approved.engagement)
    assert closed.purged_rows == 3  # note, name, contact
    assert await _count(c, sealed) == 0
    reviewed = await c.review(approved.engagement, conduct=5, contract=4, communication=4)
    assert reviewed.satisfactory and reviewed.notation and reviewed.promoted
    assert await _status(c, "@p1:hs") == "active"
    assert await _count(c, notations) == 1
    with pytest.raises(IllegalTransition):
        await c.review(approved.engagement, conduct=5, contract=5, communication=5)
    assert await audit.verify(c.engine, c.audit_key) is None
    async with c.engine.connect() as conn:
        dumped = json.dumps([dict(r._mapping) for r in await conn.execute(sa.select(audit_log))])
    assert "canary" not in dumped.lower()


def _copy_in(messages) -> str:
    """The id of the (first) proposal copy among a room's rows."""
    return next(
        m.id for m in messages if m.edits is None and notification(m).KIND == "proposal.created"
    )


async def test_cross_partner_needs_both_and_hides_organization(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["es"])
    routed = filed
    assert routed.provider == "@p2:hs"
    assert routed.approvals_needed == ("alpha", "beta")
    # Beta's copy goes to beta's default room (resolved at delivery to an encrypted one).
    beta_msgs = await c.outbox.pending("partner:beta")
    assert len(beta_msgs) == 1
    text = json.dumps(rendered(beta_msgs[0]))
    assert "o1" not in text and "Canary" not in text
    assert routed.proposal in text
    # Neither does the queued value itself: the vouching audience, without the case.
    beta_copy = notification(beta_msgs[0])
    assert isinstance(beta_copy, n.ProposalPosted)
    assert beta_copy.audience is n.Audience.VOUCHING and beta_copy.organization is None
    assert "o1" not in json.dumps(beta_msgs[0].content)
    alpha_copy = notification((await c.outbox.pending("partner:alpha"))[-1])
    assert isinstance(alpha_copy, n.ProposalPosted) and alpha_copy.organization == "o1"
    first = await c.approve(routed.proposal, "alpha")
    assert (first.state, first.waiting_for, first.engagement) == ("pending", ("beta",), None)
    # The approval edits both copies, each as its own audience sees it.
    edits = [m for m in await c.outbox.pending() if m.edits is not None]
    updated = {m.room: notification(m) for m in edits}
    assert set(updated) == {"partner:alpha", "partner:beta"}
    assert {m.edits for m in edits} == {
        f"outbox:{beta_msgs[0].id}",
        f"outbox:{_copy_in(await c.outbox.pending('partner:alpha'))}",
    }
    for value in updated.values():
        assert isinstance(value, n.ProposalUpdated) and value.waiting_for == ("beta",)
    assert updated["partner:beta"].organization is None
    with pytest.raises(DomainError) as info:
        await c.approve(routed.proposal, "globe")
    assert info.value.code == "unknown_proposal"  # not globe's: as if it did not exist
    second = await c.approve(routed.proposal, "beta")
    assert second.state == "approved" and second.engagement


async def test_decline_proposes_next_then_tells_staff(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["en"])
    first = filed
    assert first.provider == "@p1:hs"  # community first: alpha's own provider
    declined = await c.decline(first.proposal, "@p1:hs", "no_time")
    assert declined.next_provider == "@p2:hs"
    last = await c.decline(declined.next_proposal, "alpha")
    assert (last.next_proposal, last.request_state) == (None, "unmatched")
    staff = await staff_notices(c, "unmatched")
    assert len(staff) == 1 and filed.request in rendered(staff[0])["body"]
    assert "o1" not in json.dumps(rendered(staff[0]))
    with pytest.raises(IllegalTransition):
        await c.approve(first.proposal, "alpha")


async def test_errors_write_nothing(coord):
    c = coord
    await network(c)
    await c.add_organization("o2", "alpha", name="Another")
    before = (await _count(c, audit_log), await _count(c, requests), await _count(c, sealed))
    with pytest.raises(DomainError) as info:
        await c.file_request("alpha", "o2", ["forensics"], note="secret")
    assert info.value.code == "organization_not_vetted"
    with pytest.raises(DomainError) as info:
        await c.file_request("beta", "o1", ["forensics"])
    assert info.value.code == "unknown_organization"  # alpha's: as if it did not exist
    with pytest.raises(DomainError) as info:
        await c.file_request("alpha", "o1", [])
    assert info.value.code == "invalid_input"
    # A request lives in one of its partner's own rooms, never another partner's.
    with pytest.raises(DomainError) as info:
        await c.file_request("alpha", "o1", ["forensics"], note="secret", room="!beta:hs")
    assert info.value.code == "not_a_partner_room"
    with pytest.raises(DomainError) as info:
        await route(c, "r-nothere")
    assert info.value.code == "unknown_request"
    after = (await _count(c, audit_log), await _count(c, requests), await _count(c, sealed))
    # Only the refusal of beta's attempt on alpha's organization is recorded.
    assert after == (before[0] + 1, *before[1:])


async def test_event_id_makes_a_use_case_idempotent(coord):
    c = coord
    await network(c)
    first = await c.file_request("alpha", "o1", ["forensics"], event_id="$ev1")
    audit_rows = await _count(c, audit_log)
    second = await c.file_request("alpha", "o1", ["forensics"], event_id="$ev1")
    assert second == first
    assert await _count(c, requests) == 1
    assert await _count(c, audit_log) == audit_rows
    assert await c.inbox.already_handled("$ev1")
    routed = await route(c, first.request, event_id="$ev2")
    assert await route(c, first.request, event_id="$ev2") == routed


async def test_non_us_is_referred_not_routed(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], region="MX")
    assert filed.referral_to == "globe"
    with pytest.raises(DomainError) as info:
        await route(c, filed.request)
    assert info.value.code == "outside_mandate"
    outcome = await c.refer(filed.request)
    assert (outcome.state, outcome.to) == ("referred", "globe")
    globe = await c.outbox.pending("partner:globe")  # its default (encrypted) room
    assert len(globe) == 1 and "o1" not in json.dumps(rendered(globe[0]))


async def test_refusal_keeps_only_code_and_date(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], note="hateful details")
    await c.refuse(filed.request, "hate_agenda")
    async with c.engine.connect() as conn:
        row = (await conn.execute(sa.select(requests))).one()
        notes = (
            await conn.execute(sa.select(sa.func.count()).where(sealed.c.scope == filed.request))
        ).scalar_one()
    assert (row.state, row.reason_code, row.organization, row.partner) == (
        "refused",
        "hate_agenda",
        None,
        None,
    )
    assert row.skills == [] and row.filed_at is not None and notes == 0
    with pytest.raises(IllegalTransition):
        await route(c, filed.request)


async def test_sla_escalates_once(coord, clock):
    c = coord
    await network(c)
    urgent = await c.file_request("alpha", "o1", ["forensics"], urgency=Urgency.CRITICAL)
    await c.file_request("alpha", "o1", ["training"], urgency=Urgency.LOW)
    high = await c.file_request("alpha", "o1", ["forensics"], urgency=Urgency.HIGH)
    assert (await c.check_sla()).escalated == ()
    clock.advance(minutes=61)
    assert (await c.check_sla()).escalated == (urgent.request,)
    assert (await c.check_sla()).escalated == ()
    clock.advance(minutes=60)
    assert (await c.check_sla()).escalated == (high.request,)
    assert len(await staff_notices(c, "sla")) == 2


async def test_removal_reroutes_and_names_orphans(coord):
    c = coord
    await network(c)
    await c.add_provider("@p3:hs", ["forensics"], ["en"], ["US-CA"], capacity=1)
    await c.vouch("alpha", "@p3:hs")
    await c.vet("@p3:hs")
    filed = await c.file_request("alpha", "o1", ["training"], ["en"])
    routed = filed
    engagement = (await c.approve(routed.proposal, "alpha")).engagement
    # beta is removed: @p2 (vouched only by beta) needs new vouches.
    impact = await c.remove_member("beta", "partner_left", code_of_conduct=True)
    assert "@p2:hs" in impact.needs_revouching
    filed2 = await c.file_request("alpha", "o1", ["forensics"], ["es"])
    assert filed2.state == "unmatched"  # @p2 no longer accepted
    # The provider of the open engagement is removed: the request is routed again.
    removal = await c.remove_member("@p1:hs", "code_of_conduct")
    assert removal.rerouted_requests == (filed.request,)
    async with c.engine.connect() as conn:
        state = (
            await conn.execute(sa.select(requests.c.state).where(requests.c.id == filed.request))
        ).scalar_one()
    assert state in ("proposed", "unmatched")
    assert engagement
    assert await audit.verify(c.engine, c.audit_key) is None


async def test_violation_in_review_removes_provider(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["training"])
    routed = filed
    engagement = (await c.approve(routed.proposal, "alpha")).engagement
    await c.close(engagement)
    result = await c.review(engagement, 1, 3, 3, code_of_conduct_violation=True)
    assert result.removed and not result.notation
    assert await _status(c, "@p1:hs") == "removed"


async def test_restart_is_quiet_and_second_process_sees_trust(coord, db_url, tmp_path):
    from coordinator.usecases import Coordinator
    from tests.coordinator.conftest import make_config

    c = coord
    entries = await _count(c, audit_log)
    other = await Coordinator.open(make_config(tmp_path), url=db_url)
    try:
        assert await _count(c, audit_log) == entries  # same partners: nothing recorded
        await c.add_provider("@late:hs", ["audit"], ["en"], capacity=1)
        await c.vouch("alpha", "@late:hs")
        # The other process rebuilds its graph because the trust version moved.
        result = await other.vet("@late:hs")
        assert result.eligible and result.status == "pod"
        assert "@late:hs" in other.trust.graph.graph
    finally:
        await other.aclose()


async def test_concurrent_duplicate_event_runs_once(coord, db_url, tmp_path):
    import asyncio

    from coordinator.usecases import Coordinator
    from tests.coordinator.conftest import make_config

    c = coord
    await network(c)
    other = await Coordinator.open(make_config(tmp_path), url=db_url, sealer=c.ctx.sealer)
    try:
        first, second = await asyncio.gather(
            c.file_request("alpha", "o1", ["forensics"], event_id="$dup"),
            other.file_request("alpha", "o1", ["forensics"], event_id="$dup"),
        )
    finally:
        await other.aclose()
    assert first == second
    assert await _count(c, requests) == 1
    assert await audit.verify(c.engine, c.audit_key) is None


async def test_status_is_need_to_know(coord):
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["es"])
    routed = filed
    mine = await c.status(filed.request, "alpha")
    assert (mine.organization, mine.proposal, mine.approvals_needed) == (
        "o1",
        routed.proposal,
        ("alpha", "beta"),
    )
    theirs = await c.status(filed.request, "beta")  # beta must approve: needs, no organization
    assert theirs.organization is None and theirs.skills == ("forensics",)
    with pytest.raises(DomainError) as info:
        await c.status(filed.request, "globe")
    assert info.value.code == "unknown_request"
    assert (await c.status(filed.request)).organization is None  # staff view
    assert [s.request for s in await c.open_requests("alpha")] == [filed.request]
    assert await c.open_requests("beta") == []


async def _open_request(c, skills, languages=(), urgency=Urgency.NORMAL) -> str:
    """An open, not yet routed request of alpha's for o1, as a bulk import leaves it
    (filing routes at once, so the batch is fed rows, as bench/coordinator.py does)."""
    from coordinator.usecases import rows

    request_id = rows.new_id("r")
    async with c.engine.begin() as conn:
        await conn.execute(
            requests.insert().values(
                id=request_id,
                organization="o1",
                partner="alpha",
                skills=sorted(skills),
                languages=sorted(languages),
                region="US-CA",
                urgency=int(urgency),
                state="open",
                filed_at=c.ctx.clock(),
            )
        )
    return request_id


async def test_batch_routing_serves_urgent_first(coord):
    c = coord
    await network(c)
    # Only @p1 (capacity 1) knows training: the critical request must get it.
    low = await _open_request(c, ["training"], urgency=Urgency.LOW)
    critical = await _open_request(c, ["training"], urgency=Urgency.CRITICAL)
    both = await _open_request(c, ["forensics"], ["es"])
    nobody = await _open_request(c, ["cryptanalysis"])
    result = await c.route_open()
    assert len(result.proposals) == 2
    assert result.waiting == (low,)
    assert result.unmatched == (nobody,)
    assert (await c.status(critical, "alpha")).provider == "@p1:hs"
    assert (await c.status(both, "alpha")).provider == "@p2:hs"
    assert (await c.route_open()).proposals == ()  # nothing left that can be served


async def test_a_regional_language_tag_finds_a_provider_of_that_language(coord):
    """es-MX is served by a provider who speaks es; zh-Hant is not served by zh-Hans."""
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["ES-mx"])
    routed = filed
    assert routed.provider == "@p2:hs"  # the only provider who speaks es
    async with c.engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(requests.c.languages).where(requests.c.id == filed.request)
            )
        ).scalar_one()
    assert list(stored) == ["es-MX"]
    await c.add_provider("@p4:hs", ["forensics"], ["zh-Hans"], ["US-CA"], capacity=1)
    await c.vouch("alpha", "@p4:hs")
    await c.vet("@p4:hs")
    other = await c.file_request("alpha", "o1", ["forensics"], ["zh-Hant"])
    assert other.provider is None


async def test_filing_routes_in_the_same_use_case(coord):
    """One API: filing answers with the proposal; there is no separate ``route`` for an
    adapter to call, and a redelivered filing gets the same answer, nothing new."""
    from coordinator.store.schema import inbox, proposals
    from coordinator.usecases import Coordinator

    assert not hasattr(Coordinator, "route")
    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["en"], event_id="$file")
    assert (filed.state, filed.provider, filed.created) == ("proposed", "@p1:hs", True)
    again = await c.file_request("alpha", "o1", ["forensics"], ["en"], event_id="$file")
    assert again == filed
    assert await _count(c, proposals) == 1 and await _count(c, requests) == 1
    async with c.engine.connect() as conn:
        used = (await conn.execute(sa.select(inbox.c.use_case))).scalars().all()
    assert list(used) == ["file_request"]


async def test_the_public_form_waits_for_the_core_like_every_use_case(coord):
    """A submission runs under the core's lock (the trust graph is never read half
    changed by another use case)."""
    import asyncio

    from multidict import MultiDict

    from coordinator.forms import REQUEST_FORM, validate
    from tests.web.forms_data import full_form

    c = coord
    submission = validate(REQUEST_FORM, MultiDict(full_form(REQUEST_FORM))).submission
    async with c._lock:
        pending = asyncio.ensure_future(c.receive_intake(submission))
        await asyncio.sleep(0.3)
        assert not pending.done()
    receipt = await pending
    assert receipt.reference.startswith("c-")
    async with c.engine.connect() as conn:
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
    assert "intake.received" in actions


async def test_the_core_changes_nothing_for_an_untrusted_device(coord):
    """Whose words count, in the core too: a caller whose device does not meet the
    policy is refused every state change, audited, and nothing changes; reading is
    still answered."""
    from coordinator.domain import Refused
    from coordinator.usecases.acting import Acting

    c = coord
    await network(c)
    filed = await c.file_request("alpha", "o1", ["forensics"], ["en"])
    ann = Acting("@ann:hs", "alpha", device_trusted=False)
    staff = Acting("@staff:hs", None, staff=True, device_trusted=False)
    attempts = {
        "file_request": lambda: c.file_request(ann, "o1", ["forensics"], ["en"]),
        "approve": lambda: c.approve(filed.proposal, ann),
        "decline": lambda: c.decline(filed.proposal, ann),
        "withdraw_approval": lambda: c.withdraw_approval(filed.proposal, ann),
        "refer": lambda: c.refer(filed.request, by=ann),
        "refuse": lambda: c.refuse(filed.request, "hate_agenda", by=staff),
        "vouch": lambda: c.record_vouch(ann, "@p2:hs"),
        "unvouch": lambda: c.withdraw_vouch(ann, "@p1:hs"),
        "vet": lambda: c.vet("@p1:hs", ann),
        "remove_member": lambda: c.remove_member("@p1:hs", "conduct", by=staff),
        # Checked before anything is looked up: the answer is the same for any id.
        "close": lambda: c.close("e-00000000", by=ann),
        "review": lambda: c.review("e-00000000", 5, 5, 5, by=ann),
    }
    rows_before = (await _count(c, requests), await _count(c, sealed))
    audit_before = await _count(c, audit_log)
    for name, attempt in attempts.items():
        with pytest.raises(Refused) as refused:
            await attempt()
        assert refused.value.code == "untrusted_device", name
    assert (await _count(c, requests), await _count(c, sealed)) == rows_before
    assert await _count(c, audit_log) == audit_before + len(attempts)  # each one "refused"
    assert (await c.status(filed.request, ann)).proposal == filed.proposal
    trusted = Acting("@ann:hs", "alpha", device_trusted=True)
    assert (await c.approve(filed.proposal, trusted)).proposal == filed.proposal
