"""Edited commands (docs/partner.md, "Fixing a typo"): a partner in a hurry on Element
fixes a command by editing it, and expects the fixed command to run, once.

* The edit runs as the command when nothing was carried out yet for the original: it was
  refused or failed (a typo, a missing field), or it was never a command (a chat message
  edited into one). It then counts as carried out or not like any command, so a second
  edit of a refused command runs too, and one of a carried-out command does not.
* When the original (or an earlier edit of it) was carried out, the edit is not run: the
  bot answers once, in the original's thread, that edits do not change a recorded command
  and to send the command again.
* The original, when it had not been answered yet (held until it could be decrypted), is
  not run after its edit was: the edit took its place.
* Only the original's sender may edit it (the Matrix rule clients apply: anyone else's
  edit is not shown as one); an edit of an edit is no edit. Those are ignored, audited,
  and answered with nothing, since the edit is not what the room shows.

Who sent the original and where it sits (its thread) come from the homeserver's copy of
the event: sender and relations are outside the encrypted payload, so no key is needed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from nio import RoomGetEventResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.store import inbox as inbox_store
from coordinator.store.schema import inbox
from partner_bots.commands import Reply
from partner_bots.commands.errors import CommandError
from partner_bots.session import BotSession

EDIT_KEY = "edit-of:"  # inbox key of an original an edit ran for; result {"ok": bool}
REPLY_SUFFIX = ":reply"  # the sink's key of an event's answer (``sink.REPLY_SUFFIX``)
NOT_RUN_CODE = "edit_not_run"
NOT_RUN_TEXT = (
    "I did not run that edit: the original command was already carried out, and editing "
    "a message does not change a recorded command. Please send the corrected command again "
    "as a new message."
)
MESSAGE_TYPES = frozenset({"m.room.message", "m.room.encrypted"})


@dataclass(frozen=True)
class Original:
    """What the homeserver says about the edited event."""

    sender: str
    thread_root: str | None
    is_message: bool  # a (possibly encrypted) room message, not a state event or reaction
    is_edit: bool  # itself an edit: edits of edits are not edits


class OriginalLookup(Protocol):
    async def original(self, room_id: str, event_id: str) -> Original | None: ...


class Prior(enum.Enum):
    NONE = "none"  # never answered: not a command, or not handled yet
    FAILED = "failed"  # answered, nothing carried out
    CARRIED_OUT = "carried_out"


class Verdict(enum.Enum):
    RUN = "run"
    NOT_RUN = "not_run"  # answered: edits do not change a recorded command
    IGNORED = "ignored"  # not an edit the room shows: audited, no answer


def original_of(event: dict[str, Any]) -> Original:
    """An event as the client-server API returns it, judged from its cleartext parts."""
    raw_content = event.get("content")
    content: dict[str, Any] = raw_content if isinstance(raw_content, dict) else {}
    raw_relates = content.get("m.relates_to")
    relates: dict[str, Any] = raw_relates if isinstance(raw_relates, dict) else {}
    thread = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    return Original(
        sender=str(event.get("sender") or ""),
        thread_root=thread if isinstance(thread, str) else None,
        is_message=event.get("type") in MESSAGE_TYPES and "state_key" not in event,
        is_edit=relates.get("rel_type") == "m.replace" or "m.new_content" in content,
    )


class MatrixOriginals:
    """``OriginalLookup`` through one bot account's session."""

    def __init__(self, session: BotSession):
        self.session = session

    async def original(self, room_id: str, event_id: str) -> Original | None:
        resp = await self.session.client.room_get_event(room_id, event_id)
        if not isinstance(resp, RoomGetEventResponse):
            return None  # unknown, or not visible to the bot: not an edit it can judge
        return original_of(getattr(resp.event, "source", {}) or {})


def verdict(editor: str, original: Original | None, prior: Prior) -> Verdict:
    if original is None or not original.is_message or original.is_edit:
        return Verdict.IGNORED
    if original.sender != editor:
        return Verdict.IGNORED
    return Verdict.NOT_RUN if prior is Prior.CARRIED_OUT else Verdict.RUN


async def prior_of(conn: AsyncConnection, original_id: str) -> Prior:
    """Whether the original, or an edit of it that ran, was carried out."""
    ran, outcome = await inbox_store.lookup(conn, EDIT_KEY + original_id)
    if ran and isinstance(outcome, dict) and outcome.get("ok"):
        return Prior.CARRIED_OUT
    row = (
        await conn.execute(
            sa.select(inbox.c.use_case, inbox.c.result).where(
                inbox.c.event_id == original_id + REPLY_SUFFIX
            )
        )
    ).first()
    if row is not None and row.use_case == "reply":
        stored = row.result if isinstance(row.result, dict) else {}
        # An answer recorded before replies kept ``ok``: assume it was carried out, so an
        # edit never runs a command twice.
        if stored.get("ok", True):
            return Prior.CARRIED_OUT
    return Prior.FAILED if row is not None or ran else Prior.NONE


async def replaced_by_edit(conn: AsyncConnection, event_id: str) -> bool:
    """An original whose edit already ran in its place (it arrived late)."""
    ran, _ = await inbox_store.lookup(conn, EDIT_KEY + event_id)
    return ran


async def record_run(conn: AsyncConnection, original_id: str, ok: bool, now: Any) -> None:
    """In the edit's reply transaction: an edit ran for ``original_id``, carried out or not
    (once carried out, it stays so)."""
    key = EDIT_KEY + original_id
    ran, outcome = await inbox_store.lookup(conn, key)
    if not ran:
        await inbox_store.claim(conn, key, "edit", now)
    carried = ok or (isinstance(outcome, dict) and bool(outcome.get("ok")))
    await inbox_store.store_result(conn, key, {"ok": carried})


def not_run_reply(command: str) -> Reply:
    return Reply.failure(command, CommandError(NOT_RUN_CODE, NOT_RUN_TEXT))
