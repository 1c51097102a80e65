"""The partner workflow end to end on two federated homeservers (docs/partner.md)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from coordinator.store.schema import (
    audit_log,
    engagements,
    inbox,
    members,
    outbox,
    proposals,
    requests,
    reviews,
    sealed,
    vouches,
)
from partner_bots.commands import REGISTRY, Audience
from partner_bots.events import IncomingMessage
from tests.workflow.conftest import World
from tests.workflow.harness import (
    ENGAGEMENT,
    PROPOSAL,
    REPLY,
    Member,
    join_bot,
    proposal_of,
    tag,
)

pytestmark = pytest.mark.synapse


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply[REPLY]["ok"], reply.get("body")
    return reply


async def ask_ok(member: Member, room: str, bot: str, body: str) -> dict[str, Any]:
    return ok(await member.ask(room, bot, body))


# Organizations' ids, as the bot assigned them. Once a case closes, an organization with
# no other open case has no name left anywhere: partners then name it by its id.
ORGS: dict[str, str] = {}


async def seed(world: World) -> None:
    """Providers, vouches and organizations with references, all by room commands."""
    w, bot = world, world.bot
    # The referees of a new organization must not hang on one introducer: beta's clinic.
    added = await ask_ok(w.bea, w.room_b, bot, "!dsx org add clinic region=US-CA")
    ORGS["clinic"] = added["body"].split()[1]
    for body in ("!dsx vouch clinic", "!dsx vet clinic"):
        await ask_ok(w.bea, w.room_b, bot, body)
    p1, p2, p3 = (w.providers[k].user_id for k in ("p1", "p2", "p3"))
    added = await ask_ok(w.ann, w.room_a, bot, "!dsx org add tenants region=US-CA areas=housing")
    ORGS["tenants"] = added["body"].split()[1]
    for body in (
        f"!dsx provider add {p1} skills=phishing,devices langs=en regions=US-CA capacity=2",
        f"!dsx provider add {p2} skills=phishing langs=en,es regions=US-CA capacity=2",
        f"!dsx vouch {p1}",
        f"!dsx vouch {p2}",
        f"!dsx vet {p1}",
        f"!dsx vet {p2}",
        "!dsx vouch tenants",
        "!dsx vet tenants",
    ):
        await ask_ok(w.ann, w.room_a, bot, body)
    added = await ask_ok(w.ann, w.room_a, bot, '!dsx org add "legal-aid" region=US-CA')
    # The product names it (an opaque id); alpha's room names it by its name too.
    legal_aid = ORGS["legal-aid"] = added["body"].split()[1]
    assert legal_aid.startswith("o-") and "legal-aid" not in legal_aid
    await ask_ok(w.ann, w.room_a, bot, "!dsx org ref legal-aid from=tenants")
    # clinic is beta's organization: only beta records references in its name. Beta knows
    # alpha's organization by the id alpha gives it: another partner's names never resolve.
    refused = await w.bea.ask(w.room_b, bot, "!dsx org ref legal-aid from=clinic")
    assert not refused[REPLY]["ok"]
    await ask_ok(w.bea, w.room_b, bot, f"!dsx org ref {legal_aid} from=clinic")
    vetted = await ask_ok(w.ann, w.room_a, bot, "!dsx vet legal-aid")
    assert "is accepted" in vetted["body"], vetted["body"]
    # Beta vouches for a forensics provider on the second server.
    for body in (
        f"!dsx provider add {p3} skills=forensics langs=en regions=US-CA capacity=1",
        f"!dsx vouch {p3}",
        f"!dsx vet {p3}",
    ):
        await ask_ok(w.bea, w.room_b, bot, body)


@pytest.fixture(scope="module")
async def seeded(world: World) -> World:
    await seed(world)
    return world


async def proposal_in(member: Member, room: str, bot: str, request: str) -> dict[str, Any]:
    return await member.wait_event(
        room,
        bot,
        lambda s: (
            (proposal_of(s) or {}).get("request") == request
            and "m.new_content" not in s.get("content", {})
        ),
        what=f"proposal for {request}",
    )


def request_id(reply: dict[str, Any]) -> str:
    return reply["body"].split()[1]


async def test_full_story(seeded: World):
    w, bot = seeded, seeded.bot
    p1 = w.providers["p1"]
    cmd = await w.ann.command(
        w.room_a, '!dsx request legal-aid skills=devices langs=en urgency=high note="phones seized"'
    )
    filed = ok(await w.ann.reply_to(w.room_a, bot, cmd))
    req = request_id(filed)
    # The reply and the proposal sit in the request's own thread.
    assert filed["m.relates_to"]["rel_type"] == "m.thread"
    assert filed["m.relates_to"]["event_id"] == cmd
    posted = await proposal_in(w.ann, w.room_a, bot, req)
    block = posted["content"][PROPOSAL]
    assert block["provider"] == p1.user_id
    assert block["paths"] == [["alpha", p1.user_id]]
    assert block["approvals_needed"] == ["alpha"]
    assert posted["content"]["m.relates_to"]["event_id"] == cmd
    body = posted["content"]["body"]
    assert "legal-aid" in body and "Skills: devices, phishing" in body and "Languages: en" in body
    assert "probation" in body and "Why:" in body  # a new provider, and why they were chosen

    # Look-alikes are ordinary reactions: 👍, ✔️ and ☑️ approve nothing and get no reply.
    before = await counts(w)
    looks = [await w.ann.react(w.room_a, posted["event_id"], k) for k in ("👍", "✔️", "☑️")]
    still = await ask_ok(w.ann, w.room_a, bot, f"!dsx status {req}")  # handled after them
    assert "engaged" not in still["body"] and "approved" not in still["body"]
    assert await counts(w) == {**before, "outbox": before["outbox"] + 1}  # that reply only
    async with w.coordinator.running.coordinator.engine.connect() as conn:
        seen = await conn.execute(sa.select(inbox.c.event_id).where(inbox.c.event_id.in_(looks)))
        assert seen.all() == []
        state = await conn.execute(
            sa.select(proposals.c.state).where(proposals.c.id == block["id"])
        )
        assert state.scalar_one() == "pending"

    # Approve by ✅: the engagement opens and the provider is invited across federation.
    reaction = await w.ann.react(w.room_a, posted["event_id"], "✅")
    approved = ok(await w.ann.reply_to(w.room_a, bot, posted["event_id"]))
    assert "engagement" in approved["body"]
    engagement = approved["body"].split("engagement ")[1].split()[0]
    assert reaction
    room = await wait_invite(p1)
    await p1.accept_invite(room)
    await p1.read_history(room)
    intro = await p1.wait_event(
        room,
        bot,
        lambda s: ENGAGEMENT in s.get("content", {}),
        what="the introduction",
    )
    assert intro["content"][ENGAGEMENT]["id"] == engagement
    assert intro["content"]["m.mentions"]["user_ids"] == [p1.user_id]

    # The proposal's status is updated by an edit of the posted proposal.
    edit = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda s: (
            (s["content"].get("m.relates_to") or {}).get("event_id") == posted["event_id"]
            and "m.new_content" in s["content"]
        ),
        what="the proposal's edit",
    )
    assert edit["content"]["m.new_content"][PROPOSAL]["status"] == "approved"

    status = await ask_ok(w.ann, w.room_a, bot, f"!dsx status {req}")
    assert "engaged" in status["body"]
    # Closing works from the engagement room too (it belongs to the routing partner).
    await w.ann.accept_invite(room)
    closed = await ask_ok(w.ann, room, bot, f"!dsx close {engagement}")
    assert "purged" in closed["body"]
    await p1.wait_event(
        room, bot, lambda s: "is closed" in s["content"].get("body", ""), what="the closing note"
    )
    reviewed = await ask_ok(
        w.ann,
        w.room_a,
        bot,
        f"!dsx review {engagement} conduct=5 contract=5 communication=4",
    )
    assert "satisfactory" in reviewed["body"]


async def wait_invite(member: Member, timeout: float = 60.0) -> str:
    rooms: list[str] = []

    def invited() -> bool:
        rooms[:] = list(member.client.invited_rooms)
        return bool(rooms)

    await member.sync_until(invited, timeout, "an invite")
    return rooms[0]


async def test_two_partner_approval_and_withdrawal(seeded: World):
    """A provider vouched only by beta: the proposal is shown in both rooms (beta's without
    the organization) and needs both approvals; redacting a ✅ withdraws it meanwhile.
    Everything about the request stays in its thread in each room: alpha's hangs off the
    request, beta's copy of the proposal starts beta's."""
    w, bot = seeded, seeded.bot
    p3 = w.providers["p3"].user_id
    cmd = await w.ann.command(w.room_a, f"!dsx request {ORGS['legal-aid']} skills=forensics")
    req = request_id(ok(await w.ann.reply_to(w.room_a, bot, cmd)))
    mine = await proposal_in(w.ann, w.room_a, bot, req)
    theirs = await proposal_in(w.bea, w.room_b, bot, req)
    block = mine["content"][PROPOSAL]
    assert block["provider"] == p3 and block["approvals_needed"] == ["alpha", "beta"]
    assert block["paths"] == [["beta", p3]]
    assert "legal-aid" not in str(theirs["content"])  # need to know
    assert mine["content"]["m.relates_to"]["event_id"] == cmd
    assert "m.relates_to" not in theirs["content"]  # the root of the request's thread there

    first = await w.ann.react(w.room_a, mine["event_id"], "✅")
    waiting = ok(await w.ann.reply_to(w.room_a, bot, mine["event_id"]))
    assert "beta" in waiting["body"] and first
    await w.ann.redact(w.room_a, first)
    withdrawn = await w.ann.wait_event(
        w.room_a, bot, lambda s: "withdrawn" in s.get("content", {}).get("body", "")
    )
    assert withdrawn["content"][REPLY]["ok"]
    status = await ask_ok(w.ann, w.room_a, bot, f"!dsx status {req}")
    assert "0/2 approvals" in status["body"]

    await ask_ok(w.ann, w.room_a, bot, f"!dsx approve {block['id']}")
    await w.bea.react(w.room_b, theirs["event_id"], "✅")
    done = ok(await w.bea.reply_to(w.room_b, bot, theirs["event_id"]))
    assert "engagement" in done["body"]
    # Beta's approval is answered in beta's thread of the request, rooted at its copy.
    assert done["m.relates_to"]["rel_type"] == "m.thread"
    assert done["m.relates_to"]["event_id"] == theirs["event_id"]
    # Beta's copy shows the new status by an edit (edits keep the original's thread).
    edited = await w.bea.wait_event(
        w.room_b,
        bot,
        lambda s: (
            (s["content"].get("m.relates_to") or {}).get("event_id") == theirs["event_id"]
            and s["content"].get("m.new_content", {}).get(PROPOSAL, {}).get("status") == "approved"
        ),
        what="beta's copy edited to approved",
    )
    assert "legal-aid" not in str(edited["content"])
    # Beta's approval opened the engagement; alpha hears of it in alpha's request thread.
    opened = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda s: (s["content"].get(ENGAGEMENT) or {}).get("request") == req,
        what="the engagement notice in alpha's room",
    )
    assert opened["content"]["m.relates_to"]["rel_type"] == "m.thread"
    assert opened["content"]["m.relates_to"]["event_id"] == cmd
    invited = await wait_invite(w.providers["p3"])
    assert invited


async def test_decline_proposes_the_next_candidate(seeded: World):
    w, bot = seeded, seeded.bot
    req = request_id(
        await ask_ok(w.ann, w.room_a, bot, f"!dsx request {ORGS['legal-aid']} skills=phishing")
    )
    first = await proposal_in(w.ann, w.room_a, bot, req)
    await w.ann.react(w.room_a, first["event_id"], "❌")
    declined = ok(await w.ann.reply_to(w.room_a, bot, first["event_id"]))
    assert "next candidate" in declined["body"]

    def second(s: dict[str, Any]) -> bool:
        block = proposal_of(s) or {}
        return (
            block.get("request") == req
            and block.get("id") != first["content"][PROPOSAL]["id"]
            and "m.new_content" not in s["content"]
        )

    nxt = await w.ann.wait_event(w.room_a, bot, second, what="the next proposal")
    providers = {first["content"][PROPOSAL]["provider"], nxt["content"][PROPOSAL]["provider"]}
    assert providers == {w.providers["p1"].user_id, w.providers["p2"].user_id}
    # In the request's thread, like the first one.
    assert (
        nxt["content"]["m.relates_to"]["event_id"] == first["content"]["m.relates_to"]["event_id"]
    )
    second_id = nxt["content"][PROPOSAL]["id"]
    last = await ask_ok(w.ann, w.room_a, bot, f'!dsx decline {second_id} reason="{REASON}"')
    assert "no candidate is left" in last["body"]
    # The free-text reason is kept sealed with the case, never in plain text.
    async with w.coordinator.running.coordinator.engine.connect() as conn:
        kept = (
            await conn.execute(
                sa.select(sealed.c.owner).where(
                    sealed.c.scope == "reason", sealed.c.field == f"decline:{second_id}"
                )
            )
        ).scalar_one()
    assert kept == ORGS["legal-aid"]
    assert REASON.split()[0] not in await plain_text(w)


REASON = "Okapi-3318 is travelling this month"


async def plain_text(w: World) -> str:
    """Every row of every table as text (sealed blobs as raw bytes)."""
    from coordinator.store.schema import metadata

    out = []
    async with w.coordinator.running.coordinator.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                out.append(repr([v.decode("latin-1") if isinstance(v, bytes) else v for v in row]))
    return "\n".join(out)


async def test_removing_an_organization_cancels_its_requests(seeded: World):
    """Staff remove an organization: its open request is cancelled, the pending proposal
    withdrawn (its post edited), the partner told, and the cascade reported with counts."""
    w, bot = seeded, seeded.bot
    added = await ask_ok(w.ann, w.room_a, bot, "!dsx org add shelter region=US-CA")
    shelter = added["body"].split()[1]
    for body in ("!dsx vouch shelter", "!dsx vet shelter"):
        await ask_ok(w.ann, w.room_a, bot, body)
    req = request_id(await ask_ok(w.ann, w.room_a, bot, "!dsx request shelter skills=phishing"))
    posted = await proposal_in(w.ann, w.room_a, bot, req)
    why = "Marmot-9054 spread hate at the town hall"
    # Staff never see names: they name the organization by its id.
    report = await ask_ok(w.staff, w.room_s, bot, f'!dsx remove {shelter} reason="{why}"')
    assert "Requests cancelled: 1" in report["body"], report["body"]
    assert posted["content"][PROPOSAL]["id"] in report["body"]
    told = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda s: req in s["content"].get("body", "") and "org.dsx.removal" in s["content"],
        what="the partner told of the cancelled request",
    )
    assert shelter in told["content"]["body"]
    withdrawn = await w.ann.wait_event(
        w.room_a,
        bot,
        lambda s: (
            (s["content"].get("m.relates_to") or {}).get("event_id") == posted["event_id"]
            and s["content"].get("m.new_content", {}).get(PROPOSAL, {}).get("status") == "cancelled"
        ),
        what="the proposal edited to cancelled",
    )
    assert withdrawn
    staff_notice = await w.staff.wait_event(
        w.room_s,
        bot,
        lambda s: (
            (s["content"].get("org.dsx.staff") or {}).get("member") == shelter
            and s["content"]["org.dsx.staff"].get("kind") == "removal"
        ),
        what="the staff cascade report",
    )
    assert staff_notice["content"]["org.dsx.staff"]["cancelled_requests"] == 1
    assert why.split()[0] not in await plain_text(w)
    status = await ask_ok(w.ann, w.room_a, bot, f"!dsx status {req}")
    assert "refused" in status["body"]


async def test_every_command_has_help(world: World):
    w, bot = world, world.bot
    sent = {spec.name: await w.ann.command(w.room_a, f"!dsx help {spec.name}") for spec in REGISTRY}
    for name, event_id in sent.items():
        reply = ok(await w.ann.reply_to(w.room_a, bot, event_id))
        assert "Example" in reply["body"] or "example" in reply["body"].lower(), name


async def test_malformed_input_gets_an_error_code(world: World):
    w, bot = world, world.bot
    sent = []
    for spec in REGISTRY:
        staff = spec.audience is Audience.STAFF
        member, room = (w.staff, w.room_s) if staff else (w.ann, w.room_a)
        sent.append((spec.name, member, room, await member.command(room, f"!dsx {spec.name} zz=1")))
    sent.append(("gibberish", w.ann, w.room_a, await w.ann.command(w.room_a, "!dsx frobnicate")))
    for name, member, room, event_id in sent:
        reply = (await member.reply_to(room, bot, event_id))[REPLY]
        assert reply["ok"] is False, name
        assert reply["error"]["code"] not in ("", "internal_error"), name


async def test_refusals_are_replied_audited_and_change_nothing(seeded: World):
    w, bot = seeded, seeded.bot
    before = await counts(w)
    refused = await w.mallory.ask(w.room_a, bot, f"!dsx request {ORGS['legal-aid']} skills=devices")
    assert refused[REPLY]["error"]["code"] == "not_allowed"
    staff_only = await w.ann.ask(w.room_a, bot, '!dsx remove @x:example.org reason="no"')
    assert staff_only[REPLY]["error"]["code"] == "staff_only"
    after = await counts(w)
    assert after["requests"] == before["requests"]
    assert after["refusals"] == before["refusals"] + 2
    # The same command is fine for staff in the staff room (here: an unknown member).
    unknown = await w.staff.ask(w.room_s, bot, '!dsx remove @x:example.org reason="no"')
    assert unknown[REPLY]["error"]["code"] == "unknown_member"


async def test_no_reference_in_another_partners_name(seeded: World):
    """The forged-edge attack through a real room: alpha's member writes references in the
    name of beta (a seed) and of beta's organization; each is refused exactly like an
    unknown organization, audited, and the graph does not move (docs/security.md)."""
    w, bot = seeded, seeded.bot
    sybil = f"@sybil-{tag()}:evil.example"
    p3 = w.providers["p3"].user_id  # vouched for by beta
    await ask_ok(
        w.ann,
        w.room_a,
        bot,
        f"!dsx provider add {sybil} skills=forensics langs=en regions=US-CA capacity=3",
    )
    engine = w.coordinator.running.coordinator.engine

    async def edges() -> list[tuple[str, str, str]]:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(vouches.c.author, vouches.c.target, vouches.c.kind))
            return sorted(tuple(r) for r in rows)

    async def refusals() -> int:
        async with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(audit_log)
            return (await conn.execute(query.where(audit_log.c.action == "refused"))).scalar_one()

    before, refused_before = await edges(), await refusals()
    answers = {}
    # Beta's organization by its id (alpha cannot name it: names resolve per partner).
    clinic = ORGS["clinic"]
    for target, author in ((sybil, "beta"), (p3, "beta"), (sybil, clinic), (sybil, "nobody")):
        reply = await w.ann.ask(w.room_a, bot, f"!dsx org ref {target} from={author}")
        assert not reply[REPLY]["ok"], reply["body"]
        answers[author] = (reply[REPLY]["error"]["code"], reply["body"].replace(author, "X"))
    assert len(set(answers.values())) == 1, answers  # beta and clinic look like nobody
    assert answers["nobody"][0] == "unknown_organization"
    assert await edges() == before
    assert ("beta", p3, "vouch") in before
    assert await refusals() == refused_before + 3
    assert "not accepted" in (await ask_ok(w.ann, w.room_a, bot, f"!dsx vet {sybil}"))["body"]
    assert "is accepted" in (await ask_ok(w.bea, w.room_b, bot, f"!dsx vet {p3}"))["body"]


def _same_answer(theirs: dict[str, Any], real: str, unknown: dict[str, Any], ghost: str) -> None:
    """Two refusals that read word for word alike once the id named is taken out."""
    assert not theirs[REPLY]["ok"] and not unknown[REPLY]["ok"], theirs["body"]
    assert theirs[REPLY]["error"]["code"] == unknown[REPLY]["error"]["code"]
    assert theirs["body"].replace(real, "X") == unknown["body"].replace(ghost, "X")


async def _refusals(w: World) -> int:
    engine = w.coordinator.running.coordinator.engine
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(audit_log)
        return (await conn.execute(query.where(audit_log.c.action == "refused"))).scalar_one()


async def _case_rows(w: World, ids: set[str]) -> list[str]:
    """The rows of these requests, proposals and engagements, and every review."""
    engine = w.coordinator.running.coordinator.engine
    async with engine.connect() as conn:
        out = []
        for table in (requests, proposals, engagements):
            found = await conn.execute(sa.select(table).where(table.c.id.in_(ids)))
            out += sorted(repr(tuple(r)) for r in found)
        out += sorted(repr(tuple(r)) for r in await conn.execute(sa.select(reviews)))
        return out


async def test_no_acting_on_another_partners_cases(seeded: World, tmp_path):
    """Through real rooms: beta's member refers alpha's request, closes and reviews
    alpha's engagement, asks the status of alpha's request, proposal and engagement. Each
    answer is word for word the one for an id that does not exist, each is audited, and
    nothing changes; alpha itself still can (docs/security.md, "Who may do what")."""
    w, bot = seeded, seeded.bot
    skill, where = f"sat{tag()}", "langs=en regions=US-CA"
    provider = await Member.create(w.ann.hs, tmp_path, f"prov{tag()}")  # a real invitee
    try:
        for body in (
            f"!dsx provider add {provider.user_id} skills={skill} {where} capacity=1",
            f"!dsx vouch {provider.user_id}",
            f"!dsx vet {provider.user_id}",
        ):
            await ask_ok(w.ann, w.room_a, bot, body)
        filed = await ask_ok(
            w.ann, w.room_a, bot, f"!dsx request {ORGS['legal-aid']} skills={skill}"
        )
        req = request_id(filed)
        proposal = (await proposal_in(w.ann, w.room_a, bot, req))["content"][PROPOSAL]["id"]
        approved = await ask_ok(w.ann, w.room_a, bot, f"!dsx approve {proposal}")
        engagement = approved["body"].split("engagement ")[1].split()[0]

        ids = {req, proposal, engagement}
        before, refused_before = await _case_rows(w, ids), await _refusals(w)
        attacks = (
            ("!dsx refer {} to=beta", req, "r-00000000"),
            ("!dsx status {}", req, "r-00000000"),
            ("!dsx status {}", proposal, "p-00000000"),
            ("!dsx status {}", engagement, "e-00000000"),
            ("!dsx close {}", engagement, "e-00000000"),
            ("!dsx review {} conduct=1 contract=1 communication=1", engagement, "e-00000000"),
        )
        for template, real, ghost in attacks:
            theirs = await w.bea.ask(w.room_b, bot, template.format(real))
            unknown = await w.bea.ask(w.room_b, bot, template.format(ghost))
            _same_answer(theirs, real, unknown, ghost)
            assert theirs[REPLY]["error"]["code"].startswith("unknown_"), theirs["body"]
        assert await _case_rows(w, ids) == before, "another partner's attempt changed a case"
        assert await _refusals(w) == refused_before + len(attacks)

        # The owner gets past the ownership check (this world has no global partner).
        referred = await w.ann.ask(w.room_a, bot, f"!dsx refer {req} to=beta")
        assert referred[REPLY]["error"]["code"] == "not_a_global_partner", referred["body"]
        status = await ask_ok(w.ann, w.room_a, bot, f"!dsx status {engagement}")
        assert "engaged" in status["body"], status["body"]
        await ask_ok(w.ann, w.room_a, bot, f"!dsx close {engagement}")
        await ask_ok(
            w.ann, w.room_a, bot, f"!dsx review {engagement} conduct=5 contract=5 communication=5"
        )
    finally:
        await provider.close()


async def test_vet_and_path_of_another_partners_organization_read_as_unknown(seeded: World):
    """No membership oracle: beta asking about alpha's organization (vet, path to it,
    path from it) gets the reply an unknown id gets; providers stay answerable."""
    w, bot = seeded, seeded.bot
    ghost, p3 = f"ghost-{tag()}", w.providers["p3"].user_id
    refused_before = await _refusals(w)
    templates = ("!dsx vet {}", "!dsx path {}", f"!dsx path {p3} from={{}}")
    for template in templates:
        tenants = ORGS["tenants"]  # beta knows it by its id, if at all: names never resolve
        theirs = await w.bea.ask(w.room_b, bot, template.format(tenants))
        unknown = await w.bea.ask(w.room_b, bot, template.format(ghost))
        _same_answer(theirs, tenants, unknown, ghost)
        assert theirs[REPLY]["error"]["code"] == "unknown_member", theirs["body"]
    assert await _refusals(w) == refused_before + len(templates)
    assert "is accepted" in (await ask_ok(w.ann, w.room_a, bot, "!dsx vet tenants"))["body"]
    path = await ask_ok(w.ann, w.room_a, bot, "!dsx path tenants")
    assert f"alpha → {ORGS['tenants']}" in path["body"]
    assert "is accepted" in (await ask_ok(w.bea, w.room_b, bot, f"!dsx vet {p3}"))["body"]


async def test_a_replayed_event_changes_nothing(seeded: World):
    w, bot = seeded, seeded.bot
    body = f"!dsx request {ORGS['legal-aid']} skills=devices"
    event_id = await w.ann.command(w.room_a, body)
    ok(await w.ann.reply_to(w.room_a, bot, event_id))
    before = await counts(w)
    replay = IncomingMessage(
        room_id=w.room_a,
        event_id=event_id,
        sender=w.ann.user_id,
        msgtype="m.text",
        body=body,
        formatted_body=None,
        encrypted=True,
        thread_root=None,
        reply_to=None,
        server_ts=0,
        content={"msgtype": "m.text", "body": body},
    )
    await w.coordinator.running.sink(replay)
    assert await counts(w) == before


async def counts(w: World) -> dict[str, int]:
    engine = w.coordinator.running.coordinator.engine
    async with engine.connect() as conn:

        async def count(query: sa.Select) -> int:
            return (await conn.execute(query)).scalar_one()

        return {
            "requests": await count(sa.select(sa.func.count()).select_from(requests)),
            "outbox": await count(sa.select(sa.func.count()).select_from(outbox)),
            "refusals": await count(
                sa.select(sa.func.count())
                .select_from(audit_log)
                .where(audit_log.c.action == "command.refused")
            ),
        }


async def test_staff_register_a_partner_whose_admin_may_act_by_power_level(world: World, tmp_path):
    """`!dsx partner add` in the staff room; the bot then accepts the invite to that room,
    and the room's creator (not listed, but holding the power level) may act."""
    w, bot = world, world.bot
    gil = await Member.create(w.bea.hs, tmp_path, "gil")
    try:
        room = await gil.create_encrypted_room(invite=[])
        handle = f"gamma-{room[1:7].lower()}"
        added = await w.staff.ask(w.room_s, bot, f"!dsx partner add {handle} {room}")
        ok(added)
        await join_bot(gil, room, bot)
        status = await gil.ask(room, bot, "!dsx status")
        assert ok(status)["body"].startswith("You have no open requests")
    finally:
        await gil.close()


async def _raise_power(owner: Member, room: str, user_id: str, level: int) -> None:
    resp = await owner.client.room_get_state_event(room, "m.room.power_levels")
    content = dict(resp.content)
    content["users"] = {**content.get("users", {}), user_id: level}
    sent = await owner.client.room_put_state(room, "m.room.power_levels", content)
    assert getattr(sent, "event_id", None), sent


async def test_an_unlisted_staff_room_member_is_no_staff(seeded: World):
    """Staff are exactly the listed [staff] members: someone else in the staff room, even
    with the room's highest power level, gets a non-staff's answer, audited, and nothing
    changes."""
    w, bot = seeded, seeded.bot
    await w.staff.client.room_invite(w.room_s, w.mallory.user_id)
    await w.mallory.accept_invite(w.room_s)
    await w.staff.wait_for_member(w.room_s, w.mallory.user_id)
    await _raise_power(w.staff, w.room_s, w.mallory.user_id, 100)

    async def clinic_status() -> str:
        engine = w.coordinator.running.coordinator.engine
        async with engine.connect() as conn:
            query = sa.select(members.c.status).where(members.c.id == ORGS["clinic"])
            return (await conn.execute(query)).scalar_one()

    status_before, before = await clinic_status(), await counts(w)
    command = f'!dsx remove {ORGS["clinic"]} reason="not staff"'
    unlisted = await w.mallory.ask(w.room_s, bot, command)
    outsider = await w.ann.ask(w.room_a, bot, command)  # a non-staff, outside the staff room
    assert unlisted[REPLY] == outsider[REPLY]
    assert unlisted[REPLY]["ok"] is False and unlisted[REPLY]["error"]["code"] == "staff_only"
    queue = await w.mallory.ask(w.room_s, bot, "!dsx queue")
    assert queue[REPLY]["error"]["code"] == "staff_only"
    after = await counts(w)
    assert after["refusals"] == before["refusals"] + 3
    assert after["requests"] == before["requests"]
    assert await clinic_status() == status_before != "removed"
