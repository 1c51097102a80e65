"""Who may do what, the columns the rooms decide (docs/security.md, "Who may do what"):
a non-member of the room, a partner's member using a staff command, staff using a
command that speaks in a partner's name, and ✅/❌ reactions and redactions by someone
other than the proposal's partner.

The room workflow runs in process (its sink, services and directory over the real
coordinator, on both databases); the replies are read from the outbox, which is what
delivery would send. The same cases through a real homeserver are in test_story.py.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import sqlalchemy as sa

from coordinator.store import schema
from partner_bots.commands import REGISTRY, Audience, BotTools
from partner_bots.events import IncomingMessage, IncomingReaction, IncomingRedaction, Origin
from partner_bots.render.reply import REPLY_KEY
from partner_bots.standing import DeviceStanding, SenderDevice
from partner_bots.workflow import posted
from partner_bots.workflow.directory import Directory
from partner_bots.workflow.sink import WorkflowSink
from tests.coordinator import conftest as core

clock, network = core.clock, core.network

ALPHA, BETA, GLOBE, STAFF_ROOM = "!alpha:hs", "!beta:hs", "!globe:hs", "!staff:hs"
ANN, BOB, GIL, STAFF = "@ann:hs", "@bob:hs", "@gil:hs", "@staff:hs"
MALLORY = "@mallory:hs"  # in alpha's room, not listed, no power level

# Commands that speak in a partner's name: the staff room is no partner's room.
PARTNER_VOICE = (
    "request",
    "approve",
    "decline",
    "org add",
    "org ref",
    "provider add",
    "vouch",
    "unvouch",
    "review",
)

CHANGING = (
    schema.members,
    schema.providers,
    schema.organizations,
    schema.vouches,
    schema.requests,
    schema.proposals,
    schema.engagements,
    schema.reviews,
    schema.sealed,
)


@pytest.fixture
async def coord(db_url, tmp_path, clock):
    """The coordinator as ``dsx run`` builds it (the core queues what rooms show itself)."""
    c = await core.opened(db_url, tmp_path, clock)
    try:
        yield c
    finally:
        await c.aclose()


def new_id() -> str:
    return f"${secrets.token_hex(8)}"


class EveryDeviceTrusted:
    """These rules are about who the caller is, not their device (that is
    tests/workflow/test_whose_words.py): every device passes the policy here."""

    async def standing(self, room_id: str, user_id: str, origin: Origin | None) -> SenderDevice:
        return SenderDevice(DeviceStanding.TRUSTED, "DEVICE")


ORIGIN = Origin("curve-key", "session-id")
PARTNER_ROOMS = {
    "partner:alpha": "!alpha:hs",
    "partner:beta": "!beta:hs",
    "partner:globe": "!globe:hs",
}


def sink_for(c) -> WorkflowSink:
    directory = Directory(c.engine, c.config)
    sink = WorkflowSink(c, directory, BotTools(), "@bot:hs")
    sink.devices = EveryDeviceTrusted()
    return sink


async def state(c) -> dict[str, list[str]]:
    async with c.engine.connect() as conn:
        return {
            t.name: sorted(repr(tuple(r)) for r in await conn.execute(sa.select(t)))
            for t in CHANGING
        }


async def audit_actions(c) -> list[str]:
    async with c.engine.connect() as conn:
        query = sa.select(schema.audit_log.c.action).order_by(schema.audit_log.c.seq)
        return list((await conn.execute(query)).scalars())


async def replies(c, room: str) -> list[dict[str, Any]]:
    async with c.engine.connect() as conn:
        found = await conn.execute(
            sa.select(schema.outbox.c.content)
            .where(schema.outbox.c.room == room)
            .order_by(schema.outbox.c.seq)
        )
        return [content for content in found.scalars() if REPLY_KEY in content]


async def say(c, sink: WorkflowSink, room: str, sender: str, body: str) -> dict[str, Any]:
    """Send a command as ``sender`` and return the bot's reply block."""
    before = len(await replies(c, room))
    await sink(
        IncomingMessage(
            room_id=room,
            event_id=new_id(),
            sender=sender,
            msgtype="m.text",
            body=body,
            formatted_body=None,
            encrypted=True,
            thread_root=None,
            reply_to=None,
            server_ts=0,
            content={"msgtype": "m.text", "body": body},
            origin=ORIGIN,
        )
    )
    after = await replies(c, room)
    assert len(after) == before + 1, "expected exactly one reply"
    return after[-1][REPLY_KEY]


def code(reply: dict[str, Any]) -> str | None:
    return None if reply["ok"] else reply["error"]["code"]


async def refused_and_unchanged(c, attempt, expected: str, audit: str) -> dict[str, Any]:
    before, actions = await state(c), await audit_actions(c)
    reply = await attempt()
    assert code(reply) == expected, reply
    assert await state(c) == before, "a refusal changed something"
    assert (await audit_actions(c))[len(actions) :] == [audit]
    return reply


SPECS = list(REGISTRY)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
async def test_a_non_member_of_the_room_is_refused_every_command(coord, spec):
    c = coord
    await network(c)
    sink = sink_for(c)
    if spec.audience is Audience.ANYONE:
        assert (await say(c, sink, ALPHA, MALLORY, spec.example))["ok"]
        return
    expected = "staff_only" if spec.audience is Audience.STAFF else "not_allowed"
    await refused_and_unchanged(
        c, lambda: say(c, sink, ALPHA, MALLORY, spec.example), expected, "command.refused"
    )


STAFF_SPECS = [s for s in SPECS if s.audience is Audience.STAFF]


@pytest.mark.parametrize("spec", STAFF_SPECS, ids=[s.name for s in STAFF_SPECS])
async def test_partner_members_are_refused_staff_commands(coord, spec):
    c = coord
    await network(c)
    sink = sink_for(c)
    await refused_and_unchanged(
        c, lambda: say(c, sink, ALPHA, ANN, spec.example), "staff_only", "command.refused"
    )


VOICE_SPECS = [s for s in SPECS if s.name in PARTNER_VOICE]


def test_the_partner_voice_list_names_real_commands():
    assert sorted(s.name for s in VOICE_SPECS) == sorted(PARTNER_VOICE)


@pytest.mark.parametrize("spec", VOICE_SPECS, ids=[s.name for s in VOICE_SPECS])
async def test_staff_do_not_act_in_a_partners_name(coord, spec):
    """In the staff room a command that speaks for a partner is refused with
    not_a_partner_room, audited, and nothing changes (the core adds its own entry when
    the command gets that far)."""
    c = coord
    await network(c)
    sink = sink_for(c)
    before, actions = await state(c), await audit_actions(c)
    reply = await say(c, sink, STAFF_ROOM, STAFF, spec.example)
    assert code(reply) == "not_a_partner_room", reply
    assert await state(c) == before
    new = (await audit_actions(c))[len(actions) :]
    assert new[-1] == "command.refused" and set(new) <= {"refused", "command.refused"}, new


async def approvals(c, proposal: str) -> tuple[str, ...]:
    async with c.engine.connect() as conn:
        query = sa.select(schema.proposals.c.approvals).where(schema.proposals.c.id == proposal)
        return tuple((await conn.execute(query)).scalar_one())


async def deliver_posts(c, proposal: str) -> dict[str, str]:
    """Give each posted copy of the proposal its Matrix event id, as delivery would."""
    out = {}
    async with c.engine.begin() as conn:
        copies = await posted.proposal_posts_of(conn, proposal)
        for copy in copies:
            # A partner address (the other partner's copy) resolves to its room, as
            # delivery's PartnerRooms does for a partner with one room.
            room_id = PARTNER_ROOMS.get(copy.room, copy.room)
            out[room_id] = new_id()
            await conn.execute(
                schema.outbox.update()
                .where(schema.outbox.c.id == copy.row)
                .values(event_id=out[room_id], state="sent")
            )
            await posted.record_delivery(conn, copy.row, room_id, out[room_id], None)
    return out


async def test_reactions_and_redactions_count_only_from_the_proposals_partners(coord):
    """A two-partner proposal (beta's provider for alpha's request): a non-member's ✅ or
    ❌ is refused; a reaction from another room on alpha's post is ignored; only alpha
    withdraws alpha's approval: beta's redaction (an owner with no approval) and globe's
    (a stranger: as for an unknown proposal) change nothing."""
    c = coord
    await network(c)
    sink = sink_for(c)
    filed = await say(c, sink, ALPHA, ANN, "!dsx request o1 skills=forensics langs=es")
    assert filed["ok"], filed
    async with c.engine.connect() as conn:
        query = sa.select(schema.proposals.c.id, schema.proposals.c.approvals_needed)
        proposal = (await conn.execute(query)).one()
    assert list(proposal.approvals_needed) == ["alpha", "beta"]
    posts = await deliver_posts(c, proposal.id)
    assert set(posts) == {ALPHA, BETA}

    def react(room: str, sender: str, key: str, target: str, event: str | None = None):
        return IncomingReaction(room, event or new_id(), sender, target, key, True, 0, ORIGIN)

    async def reaction(room: str, sender: str, key: str) -> dict[str, Any]:
        await sink(react(room, sender, key, posts[ALPHA]))
        return (await replies(c, room))[-1][REPLY_KEY]

    for key in ("✅", "❌"):
        await refused_and_unchanged(
            c, lambda k=key: reaction(ALPHA, MALLORY, k), "not_allowed", "command.refused"
        )
    before, beta_replies = await state(c), len(await replies(c, BETA))
    await sink(react(BETA, BOB, "✅", posts[ALPHA]))  # alpha's post, from beta's room
    assert await state(c) == before and len(await replies(c, BETA)) == beta_replies

    approval = new_id()
    await sink(react(ALPHA, ANN, "✅", posts[ALPHA], approval))
    assert await approvals(c, proposal.id) == ("alpha",)

    async def redact(room: str, sender: str) -> dict[str, Any]:
        await sink(IncomingRedaction(room, new_id(), sender, approval, 0))
        return (await replies(c, room))[-1][REPLY_KEY]

    await refused_and_unchanged(c, lambda: redact(ALPHA, MALLORY), "not_allowed", "command.refused")
    assert code(await redact(BETA, BOB)) == "no_approval"
    stranger = await refused_and_unchanged(
        c, lambda: redact(GLOBE, GIL), "unknown_proposal", "refused"
    )
    assert "alpha" not in stranger["error"]["message"]
    assert await approvals(c, proposal.id) == ("alpha",)
    withdrawn = await redact(ALPHA, ANN)
    assert withdrawn["ok"], withdrawn
    assert await approvals(c, proposal.id) == ()
