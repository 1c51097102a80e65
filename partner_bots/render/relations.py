"""Relations that keep each request in its own thread and proposals current by edit: the
one set of builders, used by replies and by delivery alike."""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Any

APPROVE_KEY = "\u2705"  # ✅ WHITE HEAVY CHECK MARK
DECLINE_KEY = "\u274c"  # ❌ CROSS MARK
_EMOJI_PRESENTATION = "\ufe0f"


class Vote(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"


# Exactly the two keys the proposal asks for and the bot pre-adds. Look-alikes (👍, ✔, ☑,
# 👎, ✖, ❎) are ordinary reactions: a casual thumbs-up must never approve a match.
_VOTES = {APPROVE_KEY: Vote.APPROVE, DECLINE_KEY: Vote.DECLINE}


def vote_of(key: str) -> Vote | None:
    """What a reaction key means for a proposal: ✅ approves, ❌ declines, each with or
    without the emoji presentation selector (U+FE0F) clients may append; anything else
    means nothing (None)."""
    return _VOTES.get(key.removesuffix(_EMOJI_PRESENTATION))


def in_thread(
    content: dict[str, Any],
    root_event_id: str,
    latest_event_id: str | None = None,
    *,
    replying: bool = False,
) -> dict[str, Any]:
    """Place a message in a thread. ``latest_event_id`` is what thread-unaware clients show it
    as a reply to; with ``replying`` it is a real reply inside the thread."""
    out = dict(content)
    out["m.relates_to"] = {
        "rel_type": "m.thread",
        "event_id": root_event_id,
        "is_falling_back": not replying,
        "m.in_reply_to": {"event_id": latest_event_id or root_event_id},
    }
    return out


def as_reply(content: dict[str, Any], event_id: str) -> dict[str, Any]:
    """A rich reply (no quoted fallback: the spec dropped it, and it would copy case text).
    Content already in a thread stays there, as a real reply inside it."""
    relates = dict(content.get("m.relates_to") or {})
    relates["m.in_reply_to"] = {"event_id": event_id}
    relates.pop("is_falling_back", None)
    return {**content, "m.relates_to": relates}


def reply_to_command(
    content: dict[str, Any], event_id: str, thread_root: str | None = None
) -> dict[str, Any]:
    """Answer a command where it was sent: inside its thread if it was in one."""
    if thread_root:
        return in_thread(content, thread_root, event_id, replying=True)
    return as_reply(content, event_id)


def edit(original_event_id: str, new_content: dict[str, Any]) -> dict[str, Any]:
    """An ``m.replace`` edit. The new content carries no relation (edits keep the original's
    thread), and the outer ``m.mentions`` is empty so an edit never pings anyone again."""
    replacement = copy.deepcopy(new_content)
    replacement.pop("m.relates_to", None)
    out = {key: value for key, value in replacement.items() if key != "m.mentions"}
    out["body"] = "* " + str(replacement.get("body", ""))
    if "formatted_body" in replacement:
        out["formatted_body"] = "* " + str(replacement["formatted_body"])
    out["m.mentions"] = {}
    out["m.new_content"] = replacement
    out["m.relates_to"] = {"rel_type": "m.replace", "event_id": original_event_id}
    return out


def reaction(event_id: str, key: str) -> dict[str, Any]:
    """Content of an ``m.reaction`` event (the bot pre-adds ✅ and ❌ to a proposal)."""
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
