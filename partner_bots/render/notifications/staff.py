"""Staff-room notices: ids, codes and counts only, each with an ``org.dsx.staff`` block
that tools can read (its ``kind`` names the event)."""

from __future__ import annotations

from typing import Any

from coordinator import notifications as n
from coordinator.usecases.upgrades import ENGAGEMENT, PARTNER, STAFF
from partner_bots.render.notice import notice
from partner_bots.render.notifications.registry import Where, renders

STAFF_KEY = "org.dsx.staff"


def staff(text: str, **block: Any) -> dict[str, Any]:
    return notice(text, extra={STAFF_KEY: block})


def paths_text(paths: tuple[tuple[str, ...], ...]) -> str:
    return "; ".join(s for s in (" → ".join(p) for p in paths) if s) or "none yet"


@renders(n.StaffUnmatched)
def unmatched(x: n.StaffUnmatched, where: Where) -> dict[str, Any]:
    return staff(
        f"Request {x.request_id} has no candidate left "
        f"(skills: {', '.join(x.skills)}; urgency {x.urgency}).",
        kind="unmatched",
        request=x.request_id,
    )


@renders(n.SlaEscalation)
def sla(x: n.SlaEscalation, where: Where) -> dict[str, Any]:
    text = "Unacknowledged urgent requests past their window: " + ", ".join(x.requests)
    return staff(text, kind="sla", requests=list(x.requests))


@renders(n.VettingChanged)
def vetting(x: n.VettingChanged, where: Where) -> dict[str, Any]:
    block: dict[str, Any] = dict(
        kind="vetting",
        change=x.change,
        member=x.member,
        member_kind=x.member_kind,
        status=x.status,
        eligible=x.eligible,
        paths=[list(p) for p in x.paths],
    )
    if x.change == "accepted":
        where_to = "the probation pod" if x.status == "pod" else x.status
        text = (
            f"Vetting queue — accepted: {x.member} ({x.member_kind}) leaves the queue into "
            f"{where_to}. Vouching paths: {paths_text(x.paths)}."
        )
        return staff(text, **block)
    text = (
        f"Vetting queue — {x.change}: {x.member} ({x.member_kind}). "
        f"Decision: {x.decision or ''} "
        f"Vouching paths: {paths_text(x.paths)}. "
        f"Vouches {x.vouches or 0}, references {x.references or 0}."
    )
    return staff(text, **block, vouches=x.vouches, references=x.references)


@renders(n.MemberRemoved)
def removal(x: n.MemberRemoved, where: Where) -> dict[str, Any]:
    text = f"Member {x.member} was removed ({x.code}"
    if x.reason_sealed:
        text += "; the reason given is kept sealed)."
    else:
        text += (
            "; no sealing key is configured, the reason was not stored)."
            if x.reason_given
            else ")."
        )
    if x.organization:
        text += (
            f" Requests cancelled: {x.cancelled_requests}; proposals withdrawn: "
            f"{x.withdrawn_proposals}; engagements closed: {x.closed_engagements}."
        )
    if x.needs_revouching:
        text += " These members need new vouches: " + ", ".join(x.needs_revouching)
    return staff(
        text,
        kind="removal",
        member=x.member,
        needs_revouching=list(x.needs_revouching),
        rerouted=list(x.rerouted),
        cancelled_requests=x.cancelled_requests,
        withdrawn_proposals=x.withdrawn_proposals,
        closed_engagements=x.closed_engagements,
    )


@renders(n.AuditAnchor)
def audit_anchor(x: n.AuditAnchor, where: Where) -> dict[str, Any]:
    text = (
        f"Audit anchor: {x.count} entries, newest hash {x.hash}.\n"
        f"Keep this message; to check the log still holds them, run:\n"
        f"dsx audit verify --anchor {x.hash}:{x.count}"
    )
    return staff(text, kind="audit_anchor", count=x.count, hash=x.hash)


@renders(n.OutboxDead)
def outbox_dead(x: n.OutboxDead, where: Where) -> dict[str, Any]:
    text = (
        f"A message to {x.room} was given up on after repeated failures ({x.code}); "
        f"message {x.message}. Once the cause is fixed, an operator can send it "
        "again with `dsx outbox retry --dead`."
    )
    return staff(text, kind="outbox_dead", message=x.message, code=x.code)


def where_configured(kind: str, partner: str | None) -> str:
    if kind == STAFF:
        return "`[staff] room`"
    if kind == PARTNER:
        return f'the `rooms` of `[[partners]]` "{partner}"'
    return ""


def notice_text(old: str, new: str, kind: str, partner: str | None) -> str:
    what = {STAFF: "The staff room", ENGAGEMENT: "An engagement room"}.get(
        kind, f"A room of partner {partner}"
    )
    text = (
        f"{what} was upgraded: {old} is replaced by {new}. I follow it there and no longer "
        "post in the old room; requests filed there are answered in the new one."
    )
    where = where_configured(kind, partner)
    if where:
        text += (
            f" Please update the configuration: in {where}, replace {old} with {new} "
            "(`dsx doctor` reminds you until then)."
        )
    return text


@renders(n.RoomUpgraded)
def room_upgraded(x: n.RoomUpgraded, where: Where) -> dict[str, Any]:
    return staff(
        notice_text(x.old_room, x.new_room, x.room_kind, x.partner),
        kind="room_upgraded",
        old_room=x.old_room,
        new_room=x.new_room,
        room_kind=x.room_kind,
    )


@renders(n.SyncTrouble)
def sync(x: n.SyncTrouble, where: Where) -> dict[str, Any]:
    if not x.recovered:
        text = (
            f"Trouble: the bot's sync with the homeserver failed {x.failures} times in "
            "a row. Messages wait in the outbox and go out once it works again."
        )
        return staff(text, kind="trouble", failures=x.failures)
    text = "Recovered: the bot syncs again; queued messages are going out."
    if x.failures:
        text = f"The bot's sync failed {x.failures} times in a row (not reported then). {text}"
    return staff(text, kind="recovered", unreported=x.failures)
