"""Scripted demo people: real matrix-nio E2EE clients that send, react and read decrypted replies.

Waits are condition-based (sync until something is true) with generous deadlines, so the
scenario survives a loaded machine; a timeout names what it was waiting for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from nio.api import Api

from partner_bots.homeserver.synapse import Homeserver, RegisteredUser

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


@dataclass(frozen=True)
class Seen:
    """One decrypted message in a room, with the raw content (for ``org.dsx.*`` blocks)."""

    room_id: str
    event_id: str
    sender: str
    body: str
    content: dict[str, Any]


class Actor:
    """A person in the demo: one device with a persistent E2EE store."""

    def __init__(self, hs: Homeserver, user: RegisteredUser, store: Path, label: str):
        store.mkdir(parents=True, exist_ok=True)
        self.hs = hs
        self.user = user
        self.label = label
        self.client = AsyncClient(
            hs.base_url,
            user.user_id,
            device_id=user.device_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.seen: list[Seen] = []
        self._held: list[tuple[str, MegolmEvent]] = []

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def start(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        await self.sync()

    async def sync(self, timeout_ms: int = 0) -> None:
        resp = await self.client.sync(timeout=timeout_ms, full_state=True)
        if not isinstance(resp, SyncResponse):
            raise RuntimeError(f"{self.label}: sync failed: {type(resp).__name__}")
        for room_id, info in resp.rooms.join.items():
            for event in info.timeline.events:
                self._record(room_id, event)
        held, self._held = self._held, []
        for room_id, event in held:
            try:
                self._record(room_id, self.client.decrypt_event(event))
            except Exception:
                self._held.append((room_id, event))
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()

    def _record(self, room_id: str, event: Any) -> None:
        if isinstance(event, RoomMessageText | RoomMessageNotice):
            content = event.source.get("content", {})
            self.seen.append(Seen(room_id, event.event_id, event.sender, event.body, content))
        elif isinstance(event, MegolmEvent):
            self._held.append((room_id, event))

    async def read_history(self, room_id: str, limit: int = 50) -> None:
        """Page back through ``/messages``, as a client does after a federated join: the
        joining server receives the room's state, not its earlier timeline."""
        resp = await self.client.room_messages(room_id, limit=limit)
        known = {s.event_id for s in self.seen if s.room_id == room_id}
        known |= {e.event_id for r, e in self._held if r == room_id}
        for event in reversed(getattr(resp, "chunk", None) or []):
            if getattr(event, "event_id", None) in known:
                continue
            if isinstance(event, MegolmEvent):
                try:
                    event = self.client.decrypt_event(event)
                except Exception:
                    self._held.append((room_id, event))
                    continue
            self._record(room_id, event)

    async def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        """Sync until ``condition()`` returns something truthy, and return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = condition()
            if found:
                return found
            if loop.time() > deadline:
                raise TimeoutError(f"{self.label} waited {timeout:.0f} s for {what}")
            await self.sync(timeout_ms=500)

    def find(
        self, room_id: str, key: str, after: int = 0, sender: str | None = None
    ) -> Seen | None:
        """The first message in ``room_id`` (from index ``after``) carrying block ``key``."""
        for seen in self.seen[after:]:
            if seen.room_id == room_id and key in seen.content:
                if sender is None or seen.sender == sender:
                    return seen
        return None

    async def create_encrypted_room(self, name: str, invite: list[str]) -> str:
        resp = await self.client.room_create(
            name=name, invite=invite, initial_state=[ENCRYPTION_STATE]
        )
        if not isinstance(resp, RoomCreateResponse):
            raise RuntimeError(f"{self.label}: room creation failed: {resp}")
        await self.sync()
        return resp.room_id

    async def accept_invite(self, room_id: str, timeout: float = 60.0) -> None:
        """Join once the invite is here, retrying: federated invites can race the join."""
        await self.wait_for(
            lambda: room_id in self.client.invited_rooms or room_id in self.client.rooms,
            "the invite",
            timeout,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.2
        while isinstance(resp := await self.client.join(room_id), JoinError):
            if loop.time() > deadline:
                raise RuntimeError(f"{self.label}: join failed: {resp.status_code}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        await self.wait_for(lambda: room_id in self.client.rooms, "the join", timeout)

    async def wait_for_member(self, room_id: str, user_id: str, timeout: float = 60.0) -> None:
        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            # nio counts invited users in ``users``: wait for the join itself.
            return room is not None and user_id in room.users and user_id not in room.invited_users

        await self.wait_for(joined, f"{user_id} to join", timeout)

    async def say(self, room_id: str, body: str) -> str:
        resp = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body, "m.mentions": {}},
            ignore_unverified_devices=True,
        )
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"{self.label}: send failed: {resp}")
        return resp.event_id

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """An encrypted reaction, as Element sends it (nio would send it in the clear)."""
        client = self.client
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        if not client.rooms[room_id].members_synced:
            await client.joined_members(room_id)
        if client.should_query_keys:
            await client.keys_query()
        assert client.olm is not None
        if client.olm.should_share_group_session(room_id):
            await client.share_group_session(room_id, ignore_unverified_devices=True)
        event_type, encrypted = client.encrypt(room_id, "m.reaction", content)
        method, path, data = Api.room_send(
            client.access_token, room_id, event_type, encrypted, uuid.uuid4().hex
        )
        resp = await client._send(RoomSendResponse, method, path, data, (room_id,))
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"{self.label}: reaction failed: {resp}")
        return resp.event_id

    async def close(self) -> None:
        # Never log out: that deletes the device's keys on the server.
        await self.client.close()
