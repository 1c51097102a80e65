"""Megolm keys the bot must not keep: its crypto store holds no way to read what is gone.

nio keeps an inbound copy of every outbound session it creates (so a device can read its
own messages), in memory and in its SQLite store (``MegolmInboundSessions``). For a room
the bot has left, every inbound session of that room is dropped. For a message that must
become unreadable to the bot once sent (intake details), the message gets a session of its
own: the outbound session is discarded before and after it, and the inbound copy is
deleted, as mautrix's "don't store outbound sessions" option does. The store runs SQLite
with ``secure_delete`` on (nio's own setting), so deleted rows are overwritten on disk.

Callers hold the session's ``crypto_lock``.
"""

from __future__ import annotations

from typing import Any

from nio.store.models import ForwardedChains, MegolmInboundSessions, OutgoingKeyRequests

from coordinator.logs import get_logger

log = get_logger(__name__)


def discard_outbound(client: Any, room_id: str) -> None:
    """The next message in the room starts a new megolm session."""
    olm = client.olm
    if olm is not None:
        olm.outbound_group_sessions.pop(room_id, None)


def _delete_rows(client: Any, *where: Any) -> int:
    store = client.store
    if store is None:
        return 0
    with store.database.bind_ctx(store.models):
        ids = [
            row.session_id
            for row in MegolmInboundSessions.select(MegolmInboundSessions.session_id).where(*where)
        ]
        if not ids:
            return 0
        ForwardedChains.delete().where(ForwardedChains.session.in_(ids)).execute()
        return int(
            MegolmInboundSessions.delete()
            .where(MegolmInboundSessions.session_id.in_(ids))
            .execute()
        )


def drop_room_sessions(client: Any, room_id: str) -> int:
    """Forget every megolm session of a room the bot left (memory and store)."""
    discard_outbound(client, room_id)
    olm = client.olm
    if olm is not None:
        olm.inbound_group_store[room_id].clear()
        for request_id, request in list(olm.outgoing_key_requests.items()):
            if getattr(request, "room_id", None) == room_id:
                olm.outgoing_key_requests.pop(request_id, None)
    dropped = _delete_rows(client, MegolmInboundSessions.room_id == room_id)
    store = client.store
    if store is not None:
        with store.database.bind_ctx(store.models):
            OutgoingKeyRequests.delete().where(OutgoingKeyRequests.room_id == room_id).execute()
        store.delete_encrypted_room(room_id)
    client.encrypted_rooms.discard(room_id)
    log.info("room_keys.dropped", room=room_id, sessions=dropped)
    return dropped


def drop_own_session(client: Any, room_id: str, session_id: str) -> None:
    """Delete the inbound copy of one of the bot's own sessions (memory and store)."""
    olm = client.olm
    if olm is not None:
        own_key = olm.account.identity_keys["curve25519"]
        olm.inbound_group_store[room_id][own_key].pop(session_id, None)
    _delete_rows(
        client,
        MegolmInboundSessions.room_id == room_id,
        MegolmInboundSessions.session_id == session_id,
    )


def forget_used_session(client: Any, room_id: str, encrypted: dict[str, Any]) -> None:
    """After encrypting a single-use message: the next message starts a new session, and
    the inbound copy of this one is deleted, so the bot cannot decrypt it afterwards."""
    discard_outbound(client, room_id)
    session_id = encrypted.get("session_id")
    if isinstance(session_id, str):
        drop_own_session(client, room_id, session_id)
