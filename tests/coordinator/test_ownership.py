"""Who may do what, in the core (docs/security.md, "Who may do what").

One row per use case the rooms, the dashboard, the CLI and the API reach, times the
three callers the core tells apart: a member of the owning partner, a member of another
partner, and staff. Every refusal must read exactly like the same call on an id that
does not exist (code and message, the id aside), leave a ``refused`` audit entry, and
change nothing in the database. Both databases; one world per database for the whole
module (each test makes its own request, proposal or engagement), to keep it fast.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from coordinator.domain import DomainError
from coordinator.sealing import PublicSealer, generate_keypair
from coordinator.store import schema
from coordinator.usecases import Coordinator
from coordinator.usecases.acting import Acting
from tests.conftest import POSTGRES_URL
from tests.coordinator.conftest import make_config
from tests.harness.components import require
from tests.harness.postgres import PostgresServer

ANN = Acting("@ann:hs", "alpha")  # alpha owns everything the rows act on
BOB = Acting("@bob:hs", "beta")
GIL = Acting("@gil:hs", "globe")
STAFF = Acting("@staff:hs", None, staff=True)

ALPHA_PROVIDERS = ("@pa:hs", "@pa2:hs", "@pa3:hs")  # enough capacity for every row
OK = "allowed"
HIDDEN = "refused like an unknown id"
PARTNER_ROOM = "refused: needs a partner room"

# Everything a use case could change; the audit log and the inbox are checked apart.
WATCHED = (
    schema.members,
    schema.partners,
    schema.providers,
    schema.organizations,
    schema.vouches,
    schema.requests,
    schema.proposals,
    schema.engagements,
    schema.reviews,
    schema.notations,
    schema.sealed,
    schema.retention_counts,
    schema.outbox,
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def world(request: pytest.FixtureRequest, tmp_path_factory) -> AsyncIterator[Coordinator]:
    """alpha: providers @pa*:hs (forensics, en) and vetted organization o1, applicant o3;
    beta: provider @pb:hs (training, es) and vetted organization o2."""
    tmp = tmp_path_factory.mktemp("ownership")
    server, name = None, f"dsx_test_{secrets.token_hex(6)}"
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'dsx.sqlite3'}"
    else:
        server = PostgresServer(POSTGRES_URL)
        problem = await server.probe()
        require(problem is None, f"PostgreSQL at {POSTGRES_URL}: {problem}")
        await server.create_database(name)
        url = server.sqlalchemy_url(name)
    c = await Coordinator.open(
        make_config(tmp), url=url, sealer=PublicSealer(generate_keypair().public)
    )
    try:
        for alphas in ALPHA_PROVIDERS:
            await c.add_provider(alphas, ["forensics"], ["en"], ["US-CA"], capacity=50)
            await c.vouch("alpha", alphas)
        await c.add_provider("@pb:hs", ["training"], ["es"], ["US-CA"], capacity=50)
        await c.vouch("beta", "@pb:hs")
        await c.add_organization("o1", "alpha", region="US-CA", name="Canary Legal Aid")
        await c.add_organization("o2", "beta", region="US-CA")
        await c.add_organization("o3", "alpha", region="US-CA")
        await c.vouch("alpha", "o1")
        await c.vouch("beta", "o2")
        for member in (*ALPHA_PROVIDERS, "@pb:hs", "o1", "o2"):
            await c.vet(member)
        yield c
    finally:
        await c.aclose()
        if server is not None:
            await server.drop_database(name)


# -- the objects the rows act on (made by the trusted path, as seeding does) -------------


async def own_org(_c: Coordinator) -> str:
    return "o1"


async def provider(_c: Coordinator) -> str:
    return "@pa:hs"


async def new_provider(c: Coordinator) -> str:
    member = f"@new-{secrets.token_hex(3)}:hs"
    await c.add_provider(member, ["audit"], ["en"], ["US-CA"], capacity=1)
    return member


async def own_request(c: Coordinator) -> str:
    return (await c.file_request("alpha", "o1", ["forensics"], ["en"])).request


async def abroad_request(c: Coordinator) -> str:
    return (await c.file_request("alpha", "o1", ["forensics"], ["en"], region="MX")).request


async def own_proposal(c: Coordinator) -> str:
    routed = await c.file_request("alpha", "o1", ["forensics"], ["en"])
    assert routed.approvals_needed == ("alpha",), routed
    return routed.proposal


async def shared_proposal_approved_by_alpha(c: Coordinator) -> str:
    """A two-partner proposal (beta's provider for alpha's request) alpha approved."""
    filed = await c.file_request("alpha", "o1", ["training"], ["es"])
    routed = filed
    assert routed.approvals_needed == ("alpha", "beta"), routed
    await c.approve(routed.proposal, "alpha")
    return routed.proposal


async def open_engagement(c: Coordinator) -> str:
    return (await c.approve(await own_proposal(c), "alpha")).engagement


async def closed_engagement(c: Coordinator) -> str:
    engagement = await open_engagement(c)
    await c.close(engagement)
    return engagement


def staff_source(by: Acting) -> str | None:
    return "alpha" if by.partner is None else None  # the staff room says from=


@dataclass(frozen=True)
class Row:
    """One row of the table: what it acts on, the call, and who may make it."""

    name: str
    make: Callable[[Coordinator], Awaitable[str]]
    act: Callable[[Coordinator, Acting, str], Awaitable[object]]
    unknown: str  # an id of the same kind that does not exist
    own: str = OK
    other: str = HIDDEN
    staff: str = OK
    other_caller: Acting = BOB


ROWS = (
    Row(
        "request (for an organization)",
        own_org,
        lambda c, by, org: c.file_request(by, org, ["forensics"], ["en"]),
        "o-nothere",
        staff=PARTNER_ROOM,
    ),
    Row(
        "approve / ✅",
        own_proposal,
        lambda c, by, p: c.approve(p, by),
        "p-00000000",
        staff=PARTNER_ROOM,
    ),
    Row(
        "decline / ❌",
        own_proposal,
        lambda c, by, p: c.decline(p, by),
        "p-00000000",
        staff=PARTNER_ROOM,
    ),
    Row(
        "withdraw an approval (redact ✅)",
        shared_proposal_approved_by_alpha,
        lambda c, by, p: c.withdraw_approval(p, by),
        "p-00000000",
        staff=PARTNER_ROOM,
        other_caller=GIL,  # beta is the proposal's other owner: globe is a stranger
    ),
    Row("status <request>", own_request, lambda c, by, r: c.status(r, by), "r-00000000"),
    Row("status <proposal>", own_proposal, lambda c, by, p: c.status(p, by), "p-00000000"),
    Row("status <engagement>", open_engagement, lambda c, by, e: c.status(e, by), "e-00000000"),
    Row("refer", abroad_request, lambda c, by, r: c.refer(r, by=by), "r-00000000"),
    Row(
        "refuse",
        own_request,
        lambda c, by, r: c.refuse(r, "hate_agenda", by=by),
        "r-00000000",
        own=HIDDEN,
    ),
    Row("close", open_engagement, lambda c, by, e: c.close(e, by=by), "e-00000000"),
    Row(
        "review",
        closed_engagement,
        lambda c, by, e: c.review(e, 4, 4, 4, by=by),
        "e-00000000",
        staff=PARTNER_ROOM,
    ),
    Row("vet <organization>", own_org, lambda c, by, m: c.vet(m, by), "o-nothere"),
    Row("vet <provider>", provider, lambda c, by, m: c.vet(m, by), "@nobody:hs", other=OK),
    Row(
        "path <organization>",
        own_org,
        lambda c, by, m: c.path(m, staff_source(by), by=by),
        "o-nothere",
    ),
    Row(
        "path <provider> from=<organization>",
        own_org,
        lambda c, by, m: c.path("@pa:hs", m, by=by),
        "o-nothere",
    ),
    Row(
        "org ref (from= an organization)",
        own_org,
        lambda c, by, m: c.reference(by, "o3", on_behalf_of=m),
        "o-nothere",
        staff=PARTNER_ROOM,
    ),
    Row(
        "vouch (the caller's partner's own edge)",
        new_provider,
        lambda c, by, m: c.record_vouch(by, m),
        "@nobody:hs",
        other=OK,
        staff=PARTNER_ROOM,
    ),
    Row(
        "remove",
        new_provider,
        lambda c, by, m: c.remove_member(m, "conduct", by=by),
        "@nobody:hs",
        own=HIDDEN,
    ),
)


async def snapshot(c: Coordinator) -> dict[str, list[str]]:
    async with c.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(r)) for r in await conn.execute(sa.select(table)))
            for table in WATCHED
        }


async def audit_tail(c: Coordinator, after: int) -> list[tuple[str, str, dict]]:
    async with c.engine.connect() as conn:
        found = await conn.execute(
            sa.select(schema.audit_log.c.actor, schema.audit_log.c.action, schema.audit_log.c.data)
            .where(schema.audit_log.c.seq > after)
            .order_by(schema.audit_log.c.seq)
        )
        return [tuple(r) for r in found]


async def last_seq(c: Coordinator) -> int:
    async with c.engine.connect() as conn:
        query = sa.select(sa.func.coalesce(sa.func.max(schema.audit_log.c.seq), 0))
        return (await conn.execute(query)).scalar_one()


CALLERS = ("own partner's member", "other partner's member", "staff")


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_who_may_do_what(world: Coordinator, row: Row, caller: str):
    c = world
    by, expected = {
        CALLERS[0]: (ANN, row.own),
        CALLERS[1]: (row.other_caller, row.other),
        CALLERS[2]: (STAFF, row.staff),
    }[caller]
    target = await row.make(c)
    before, seq = await snapshot(c), await last_seq(c)

    if expected == OK:
        await row.act(c, by, target)
        assert not [e for e in await audit_tail(c, seq) if e[1] == "refused"]
        return

    with pytest.raises(DomainError) as refused:
        await row.act(c, by, target)
    assert await snapshot(c) == before, "a refusal changed something"
    entries = await audit_tail(c, seq)
    assert [(actor, action) for actor, action, _ in entries] == [(by.user, "refused")], entries
    assert entries[0][2]["reason"]  # why, for staff: never shown to the caller

    with pytest.raises(DomainError) as unknown:
        await row.act(c, by, row.unknown)
    assert refused.value.code == unknown.value.code
    assert refused.value.message.replace(target, "X") == unknown.value.message.replace(
        row.unknown, "X"
    )
    if expected == HIDDEN:
        assert refused.value.code.startswith("unknown_"), refused.value.code
    else:
        assert refused.value.code == "not_a_partner_room"


async def test_second_partner_sees_and_approves_without_the_organization(world: Coordinator):
    """A two-partner proposal belongs to both: beta sees the provider and the path, not
    the organization, and its approval counts; alpha's engagement stays alpha's."""
    c = world
    proposal = await shared_proposal_approved_by_alpha(c)
    seen = await c.status(proposal, BOB)
    assert seen.organization is None and seen.provider == "@pb:hs"
    assert (await c.status(proposal, ANN)).organization == "o1"
    approved = await c.approve(proposal, BOB)
    assert approved.engagement and approved.state == "approved"
    # beta approved the match but does not run the engagement: alpha does.
    with pytest.raises(DomainError) as refused:
        await c.close(approved.engagement, by=BOB)
    assert refused.value.code == "unknown_engagement"
    assert (await c.status(approved.engagement, ANN)).engagement == approved.engagement


async def test_paths_leave_other_partners_organizations_unnamed(world: Coordinator):
    """beta may vet a provider, but a vouching path through alpha's organization does not
    name it to beta (alpha and staff see it)."""
    c = world
    member = await new_provider(c)
    await c.reference(ANN, member, on_behalf_of="o1")  # alpha's organization refers
    mine = await c.path(member, "o1", by=ANN)
    assert mine.path == ("o1", member)
    theirs = await c.path(member, "alpha", by=BOB)
    assert theirs.path == ("alpha", "(an organization)", member)
    assert (await c.path(member, "alpha", by=STAFF)).path == ("alpha", "o1", member)
