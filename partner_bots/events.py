"""Typed incoming events: what the rest of the bot may act on, stripped of nio's classes.

Conversion is where the "never answer" rules live: our own events and ``m.notice``
messages are never turned into something a command handler could answer. An edit
(``m.replace``) comes through as the message it now reads, with ``replaces`` naming the
original; whether it runs is the workflow's decision (``partner_bots.workflow.edits``).
A decrypted event
keeps its ``Origin`` (the megolm session it came in), from which the bot finds the device
that sent it; a plaintext event has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nio import Event, MegolmEvent, RoomMessageNotice


@dataclass(frozen=True)
class Origin:
    """The megolm session an event was decrypted with: the sender's curve25519 key, the id."""

    sender_key: str
    session_id: str


@dataclass(frozen=True)
class IncomingMessage:
    room_id: str
    event_id: str
    sender: str
    msgtype: str
    body: str
    formatted_body: str | None
    encrypted: bool
    thread_root: str | None
    reply_to: str | None
    server_ts: int
    content: dict[str, Any]
    origin: Origin | None = None
    replaces: str | None = None  # an edit: the original event's id


@dataclass(frozen=True)
class IncomingReaction:
    room_id: str
    event_id: str
    sender: str
    reacts_to: str
    key: str
    encrypted: bool
    server_ts: int
    origin: Origin | None = None


@dataclass(frozen=True)
class IncomingRedaction:
    room_id: str
    event_id: str
    sender: str
    redacts: str
    server_ts: int


Incoming = IncomingMessage | IncomingReaction | IncomingRedaction


def _decrypted(event: Any) -> bool:
    return bool(getattr(event, "decrypted", False))


def _origin(event: Any) -> Origin | None:
    if not _decrypted(event):
        return None
    key, session = getattr(event, "sender_key", None), getattr(event, "session_id", None)
    if isinstance(key, str) and isinstance(session, str) and key and session:
        return Origin(key, session)
    return None


def to_incoming(room_id: str, event: Event, own_user: str) -> Incoming | None:
    """Map a (decrypted) nio timeline event to what we handle, or None to ignore it."""
    if isinstance(event, MegolmEvent) or isinstance(event, RoomMessageNotice):
        return None
    source: dict[str, Any] = getattr(event, "source", {}) or {}
    sender = source.get("sender") or getattr(event, "sender", "")
    if not sender or sender == own_user:
        return None
    event_id = source.get("event_id", "")
    ts = int(source.get("origin_server_ts", 0))
    etype = source.get("type")
    content = source.get("content", {}) if isinstance(source.get("content"), dict) else {}
    relates = content.get("m.relates_to") or {}
    if etype == "m.reaction" or (relates.get("rel_type") == "m.annotation"):
        target, key = relates.get("event_id"), relates.get("key")
        if not (isinstance(target, str) and isinstance(key, str)):
            return None
        return IncomingReaction(
            room_id, event_id, sender, target, key, _decrypted(event), ts, _origin(event)
        )
    if etype == "m.room.redaction":
        redacts = source.get("redacts") or content.get("redacts")
        if not isinstance(redacts, str):
            return None
        return IncomingRedaction(room_id, event_id, sender, redacts, ts)
    if etype == "m.room.message":
        replaces = None
        if "m.new_content" in content or relates.get("rel_type") == "m.replace":
            new = content.get("m.new_content")
            target = relates.get("event_id")
            if relates.get("rel_type") != "m.replace" or not isinstance(target, str):
                return None
            if not isinstance(new, dict):
                return None
            replaces, content, relates = target, new, {}
        msgtype = content.get("msgtype", "")
        if msgtype == "m.notice":
            return None  # never answer notices
        body = content.get("body")
        if not isinstance(body, str):
            return None
        thread_root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
        reply = (relates.get("m.in_reply_to") or {}).get("event_id")
        if thread_root is not None and relates.get("is_falling_back"):
            reply = None
        formatted = content.get("formatted_body")
        return IncomingMessage(
            room_id=room_id,
            event_id=event_id,
            sender=sender,
            msgtype=msgtype,
            body=body,
            formatted_body=formatted if isinstance(formatted, str) else None,
            encrypted=_decrypted(event),
            thread_root=thread_root,
            reply_to=reply,
            server_ts=ts,
            content=content,
            origin=_origin(event),
            replaces=replaces,
        )
    return None
