"""The scripted story, played through real E2EE clients against the running coordinator.

A partner files a request; the bot proposes a provider with the vouching path; the partner
approves with a ✅ reaction; the provider joins the engagement room; the partner closes and
reviews the engagement, and the organization's sealed data is gone from the database.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from coordinator.store.schema import sealed
from dsx.demo.network import DemoOrganization
from dsx.demo.stack import Stack
from dsx.demo.transcript import Milestone, Transcript
from partner_bots.homeserver.user_client import Seen, UserClient

REPLY = "org.dsx.reply"
PROPOSAL = "org.dsx.proposal"
ENGAGEMENT = "org.dsx.engagement"


class ScenarioError(RuntimeError):
    """A step did not go as the script expects; the message says which."""


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def reply_to(actor: UserClient, room_id: str, bot: str, event_id: str) -> Seen | None:
    for seen in actor.seen:
        if seen.room_id != room_id or seen.sender != bot or REPLY not in seen.content:
            continue
        rel = seen.content.get("m.relates_to") or {}
        if (rel.get("m.in_reply_to") or {}).get("event_id") == event_id:
            return seen
    return None


async def ask(actor: UserClient, room_id: str, bot: str, body: str, t: Transcript) -> Seen:
    """Send a command, wait for the bot's reply, and insist it succeeded."""
    t.say(actor.label, body)
    event_id = await actor.send_text(room_id, body)
    reply: Seen = await actor.wait_for(
        lambda: reply_to(actor, room_id, bot, event_id), f"the reply to {body.split()[1]}"
    )
    t.say("bot", first_line(reply.body))
    block: dict[str, Any] = reply.content[REPLY]
    if not block.get("ok"):
        raise ScenarioError(f"{body.split()[1]} failed: {block.get('error')}")
    return reply


async def invite_bot(owner: UserClient, room_id: str, bot: str) -> None:
    await owner.client.room_invite(room_id, bot)
    await owner.wait_for_member(room_id, bot, timeout=90, joined=True)


async def play(stack: Stack, org: DemoOrganization, engine: Any, t: Transcript) -> None:
    bot = stack.bot_user
    for handle, owner in stack.partners.items():
        await invite_bot(owner, stack.partner_rooms[handle], bot)
    await invite_bot(stack.staff, stack.staff_room, bot)
    t.milestone(Milestone.BOT_JOINED)

    partner = stack.partners[org.partner]
    room = stack.partner_rooms[org.partner]
    await ask(
        partner,
        room,
        bot,
        f"!dsx request {org.handle} skills=phishing langs=es region={org.region} "
        'urgency=high note="staff received convincing fake login pages"',
        t,
    )
    t.milestone(Milestone.REQUEST)

    posted: Seen = await partner.wait_for(
        lambda: next(
            (
                s
                for s in partner.seen
                if s.room_id == room and PROPOSAL in s.content and "m.new_content" not in s.content
            ),
            None,
        ),
        "the proposal",
    )
    proposal = posted.content[PROPOSAL]
    t.say("bot", first_line(posted.body))
    for path in proposal.get("paths", []):
        t.say("bot", "vouching path: " + " → ".join(path))
    t.milestone(Milestone.PROPOSAL, f"{proposal['id']} for {proposal['request']}")

    await partner.react(room, posted.event_id, "✅")
    t.say(partner.label, "reacts ✅ to the proposal")
    approved: Seen = await partner.wait_for(
        lambda: reply_to(partner, room, bot, posted.event_id), "the approval's answer"
    )
    t.say("bot", first_line(approved.body))
    if not approved.content[REPLY].get("ok"):
        raise ScenarioError(f"approval failed: {approved.content[REPLY].get('error')}")
    t.milestone(Milestone.APPROVED)

    engagement = await join_engagement(stack, proposal["provider"], t, engagement_in(approved.body))
    t.milestone(Milestone.ENGAGEMENT, engagement)

    await ask(partner, room, bot, f"!dsx close {engagement} archive=no", t)
    t.milestone(Milestone.CLOSED)
    await ask(
        partner,
        room,
        bot,
        f"!dsx review {engagement} conduct=5 contract=5 communication=5",
        t,
    )
    t.milestone(Milestone.REVIEWED)

    left = await sealed_rows_of(engine, org.handle, proposal["request"])
    if left:
        raise ScenarioError(f"{left} sealed rows of the organization are still stored")
    t.milestone(Milestone.PURGED, "0 sealed rows left for the organization and its request")

    await cross_partner_case(stack, org, t)


async def cross_partner_case(stack: Stack, org: DemoOrganization, t: Transcript) -> None:
    """Forensics help comes only through Delta's web of trust: Delta must approve too, from
    its room on the second homeserver, and that room never sees the organization."""
    bot = stack.bot_user
    partner, room = stack.partners[org.partner], stack.partner_rooms[org.partner]
    other_handle = next(h for h in stack.partners if h == "delta")
    other, other_room = stack.partners[other_handle], stack.partner_rooms[other_handle]
    t.line("    -- a second case: forensics, a skill only Delta's network offers --")
    await ask(
        partner,
        room,
        bot,
        f"!dsx request {org.handle} skills=forensics langs=en region={org.region}",
        t,
    )
    posted = await proposal_in(partner, room, bot, skip=1)
    proposal = posted.content[PROPOSAL]
    t.say("bot", first_line(posted.body))
    t.say("bot", f"approvals needed: {', '.join(proposal.get('approvals_needed', []))}")
    elsewhere = await proposal_in(other, other_room, bot)
    if org.handle in elsewhere.body:
        raise ScenarioError("the other partner's room was shown the organization")
    t.say("bot", f"(in {other.label.split()[0]}'s room) {first_line(elsewhere.body)}")

    await partner.react(room, posted.event_id, "✅")
    t.say(partner.label, "reacts ✅")
    first: Seen = await partner.wait_for(
        lambda: reply_to(partner, room, bot, posted.event_id), "the first approval's answer"
    )
    t.say("bot", " ".join(first.body.split()))
    await other.react(other_room, elsewhere.event_id, "✅")
    t.say(other.label, "reacts ✅ (from the second homeserver)")
    second: Seen = await other.wait_for(
        lambda: reply_to(other, other_room, bot, elsewhere.event_id), "the second answer", 90
    )
    t.say("bot", first_line(second.body))
    if not second.content[REPLY].get("ok"):
        raise ScenarioError(f"approval failed: {second.content[REPLY].get('error')}")
    t.milestone(Milestone.CROSS_PARTNER, proposal["id"])
    engagement = await join_engagement(stack, proposal["provider"], t, engagement_in(second.body))
    t.milestone(Milestone.FEDERATED, f"{engagement}, left open for you to explore")


async def proposal_in(actor: UserClient, room_id: str, bot: str, skip: int = 0) -> Seen:
    """The ``skip``-th original proposal the bot posted in the room (edits are not counted)."""

    def found() -> Seen | None:
        posted = [
            s
            for s in actor.seen
            if s.room_id == room_id
            and s.sender == bot
            and PROPOSAL in s.content
            and "m.new_content" not in s.content
        ]
        return posted[skip] if len(posted) > skip else None

    return await actor.wait_for(found, "the proposal", 90)


def engagement_in(answer: str) -> str:
    """The engagement id in the bot's answer to an approval."""
    found = re.search(r"engagement (e-[0-9a-f]+)", answer)
    if found is None:
        raise ScenarioError("the approval's answer names no engagement")
    return found.group(1)


async def join_engagement(
    stack: Stack, provider_id: str, t: Transcript, engagement: str, intro_wait: float = 45
) -> str:
    """The provider accepts the engagement room's invite, then reads the introduction.

    Both are milestones: an introduction the provider cannot decrypt is a failure.
    """
    bot = stack.bot_user
    provider = next((a for a in stack.providers.values() if a.user_id == provider_id), None)
    if provider is None:
        raise ScenarioError(f"the proposal went to {provider_id}, not a demo provider")
    eng_room: str = await provider.wait_for(
        lambda: next(iter(provider.client.invited_rooms), None), "the engagement invite", 90
    )
    await provider.accept_invite(eng_room, timeout=90)
    await provider.read_history(eng_room)
    intro: Seen = await provider.wait_for(
        lambda: provider.find(eng_room, ENGAGEMENT, sender=bot), "the introduction", intro_wait
    )
    t.say("bot", f"(in the engagement room, to {provider.label}) {first_line(intro.body)}")
    if intro.content[ENGAGEMENT]["id"] != engagement:
        raise ScenarioError("the introduction names another engagement than the approval")
    return engagement


async def sealed_rows_of(engine: Any, organization: str, request_id: str) -> int:
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).where(
            sa.or_(sealed.c.owner == organization, sealed.c.scope == request_id)
        )
        return int((await conn.execute(query)).scalar_one())
