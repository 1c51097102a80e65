"""Sending into rooms: every event type, reactions included, encrypted in encrypted rooms
(the content builders are ``partner_bots.render``).

nio's ``room_send`` leaves ``m.reaction`` in the clear and races its key queries with the
sync loop, so we encrypt ourselves under the session's crypto lock. Every send takes a
caller-given transaction id: the homeserver answers a repeated (token, device, txn id)
with the original event id, so a retry never posts twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Container
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import ClientError
from nio import Api, EncryptionError, LocalProtocolError, MatrixRoom, RoomSendResponse

from coordinator.logs import get_logger
from partner_bots import room_keys
from partner_bots.client import is_rate_limited, retry_after_of
from partner_bots.render.relations import reaction
from partner_bots.session import BotSession

log = get_logger(__name__)


class SendError(RuntimeError):
    """A send that did not land; ``retry_after`` is None when retrying is pointless."""

    def __init__(self, code: str, retry_after: float | None):
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        return self.retry_after is None


# -- the sender ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    event_id: str
    encrypted: bool


class RoomKeyGate(Protocol):
    """Device policy applied before a room key is shared (see device_trust.py)."""

    async def prepare_room(self, room_id: str) -> None: ...


class Sender:
    """Sends events, encrypting every type (reactions included) in encrypted rooms."""

    def __init__(self, session: BotSession, trust: RoomKeyGate | None = None):
        self.session = session
        self.trust = trust
        # Rooms replaced by an upgrade (``partner_bots.upgrades.MovedRooms``): never again.
        self.closed: Container[str] = frozenset()

    async def room(self, room_id: str) -> MatrixRoom | None:
        """This account's view of a room (its encryption, its members); None if unknown."""
        return self.session.client.rooms.get(room_id)

    async def send(
        self,
        room_id: str,
        event_type: str,
        content: dict[str, Any],
        tx_id: str | None = None,
        allow_unencrypted: bool = False,
        single_use_session: bool = False,
    ) -> Sent:
        """``single_use_session``: encrypt with a megolm session of its own, whose inbound
        copy is not kept (partner_bots/room_keys.py): the bot cannot read it back."""
        if room_id in self.closed:
            raise SendError("DSX_ROOM_UPGRADED", None)
        client = self.session.client
        room = client.rooms.get(room_id)
        if room is None:
            # Not synced yet (just after a restart) or not joined (yet): worth a retry.
            raise SendError("M_UNKNOWN_ROOM", 5.0)
        encrypted = room.encrypted
        if not encrypted and not allow_unencrypted:
            # The bot works only in encrypted rooms; refusing here makes it impossible to
            # leak a case into a room whose encryption state we have not seen yet (a sync
            # can show a room just created with only part of its initial state: retry).
            raise SendError("DSX_UNENCRYPTED_ROOM", 1.0)
        tx = tx_id or uuid.uuid4().hex
        try:
            if encrypted:
                event_type, content = await self._encrypt(
                    room_id, event_type, content, single_use_session
                )
            method, path, data = Api.room_send(
                client.access_token, room_id, event_type, content, tx
            )
            resp = await client._send(RoomSendResponse, method, path, data, (room_id,))
        except (ClientError, TimeoutError) as exc:
            raise SendError(f"network:{type(exc).__name__}", 2.0) from exc
        except (LocalProtocolError, EncryptionError) as exc:
            # Members or keys not fetched yet (nio raises, e.g. MembersSyncError): retry.
            raise SendError(f"crypto:{type(exc).__name__}", 2.0) from exc
        if isinstance(resp, RoomSendResponse):
            return Sent(resp.event_id, encrypted)
        code = str(getattr(resp, "status_code", None) or "unknown")
        if is_rate_limited(resp):
            raise SendError("M_LIMIT_EXCEEDED", retry_after_of(resp) or 5.0)
        http = getattr(resp, "http_status", 0) or 0
        retry = 5.0 if http >= 500 or http == 0 else None
        log.warning("send.failed", code=code, http=http)
        raise SendError(code, retry)

    async def _encrypt(
        self, room_id: str, event_type: str, content: dict[str, Any], single_use: bool = False
    ) -> tuple[str, dict[str, Any]]:
        client = self.session.client
        async with self.session.crypto_lock:
            if single_use:
                room_keys.discard_outbound(client, room_id)
            room = client.rooms[room_id]
            if not room.members_synced:
                await client.joined_members(room_id)
            if client.should_query_keys:
                await client.keys_query()
            if self.trust is not None:
                await self.trust.prepare_room(room_id)
            assert client.olm is not None
            if client.olm.should_share_group_session(room_id):
                await client.share_group_session(room_id, ignore_unverified_devices=True)
            encrypted = client.encrypt(room_id, event_type, content)
            if single_use:
                room_keys.forget_used_session(client, room_id, encrypted[1])
            return encrypted

    async def react(self, room_id: str, target: str, key: str, tx_id: str | None = None) -> Sent:
        return await self.send(room_id, "m.reaction", reaction(target, key), tx_id)

    async def redact(self, room_id: str, event_id: str, tx_id: str | None = None) -> str:
        client = self.session.client
        resp = await client.room_redact(room_id, event_id, tx_id=tx_id)
        event_id_out = getattr(resp, "event_id", None)
        if event_id_out is None:
            raise SendError(str(getattr(resp, "status_code", "unknown")), retry_after_of(resp))
        return event_id_out
