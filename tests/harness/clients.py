"""Real matrix-nio E2EE clients for tests: a partner member, a provider, an echo bot.

Waits are condition-based (sync until something is true) with a generous deadline,
so the tests are not flaky on a loaded two-core machine.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from partner_bots.cross_signing import CrossSigning, CrossSigningStatus
from partner_bots.homeserver.synapse import Homeserver, RegisteredUser
from partner_bots.raw_api import RawApi

# Seals a test client's cross-signing keys at rest (as the bot's pickle key does its own).
CROSS_SIGNING_SEAL = "test-client-cross-signing-key"

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class TestClient:
    """A nio client with a persistent E2EE store that records what it decrypts."""

    __test__ = False  # not a pytest class

    def __init__(self, hs: Homeserver, user: RegisteredUser, store: Path, keys: Path | None = None):
        store.mkdir(parents=True, exist_ok=True)
        self.hs = hs
        self.user = user
        # Where this user's cross-signing keys are kept: a second device of the same user
        # shares the folder of the first, as a second Element session shares the secrets.
        self.keys_dir = keys or store
        self.client = AsyncClient(
            hs.base_url,
            user.user_id,
            device_id=user.device_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.messages: list[tuple[str, RoomMessageText]] = []
        self.undecrypted: list[tuple[str, MegolmEvent]] = []

    @classmethod
    async def create(cls, hs: Homeserver, store_root: Path, name: str = "user") -> TestClient:
        user = await hs.register(f"{name}-{uuid.uuid4().hex[:8]}")
        tc = cls(hs, user, store_root / user.user_id.strip("@").replace(":", "_"))
        if tc.client.should_upload_keys:
            await tc.client.keys_upload()
        await tc.sync()
        return tc

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def cross_sign(self) -> CrossSigningStatus:
        """Publish this user's cross-signing keys (once) and sign this device with them, as
        Element does on setup; the bot's own bootstrap code does the work."""
        ident = SimpleNamespace(
            user_id=self.user_id,
            device_id=self.user.device_id,
            raw=RawApi(self.hs.base_url, self.user.access_token),
            client=self.client,  # its olm account holds the device keys that get signed
            account=SimpleNamespace(
                store_path=self.keys_dir, pickle_key=CROSS_SIGNING_SEAL, password=self.user.password
            ),
        )
        try:
            return await CrossSigning(ident).ensure()  # type: ignore[arg-type]
        finally:
            await ident.raw.close()

    async def reset_identity(self) -> CrossSigningStatus:
        """A new master key, as after "reset encryption": this device is signed anew."""
        (self.keys_dir / "cross_signing.sealed").unlink()
        return await self.cross_sign()

    async def new_device(self, store_root: Path) -> TestClient:
        """The same user signed in on another device (not cross-signed until asked)."""
        user = await login_device(self.hs, self.user)
        other = type(self)(self.hs, user, store_root / user.device_id, keys=self.keys_dir)
        if other.client.should_upload_keys:
            await other.client.keys_upload()
        await other.sync()
        return other

    async def _sync_request(self, timeout_ms: int) -> Any:
        return await self.client.sync(timeout=timeout_ms, full_state=True)

    async def sync(self, timeout_ms: int = 0) -> SyncResponse:
        resp = await self._sync_request(timeout_ms)
        if not isinstance(resp, SyncResponse):
            raise RuntimeError(f"sync failed: {resp}")
        # A room we were removed from still shows what was sent before the removal.
        for rooms in (resp.rooms.join, resp.rooms.leave):
            for room_id, info in rooms.items():
                for event in info.timeline.events:
                    self._record(room_id, event)
        # Room keys may arrive after the message they unlock: retry what we held.
        still: list[tuple[str, MegolmEvent]] = []
        for room_id, event in self.undecrypted:
            try:
                decrypted = self.client.decrypt_event(event)
            except Exception:
                still.append((room_id, event))
                continue
            self._record(room_id, decrypted)
        self.undecrypted = still
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()
        return resp

    def _record(self, room_id: str, event: Any) -> None:
        if isinstance(event, RoomMessageText):
            self.messages.append((room_id, event))
        elif isinstance(event, MegolmEvent):
            self.undecrypted.append((room_id, event))

    async def sync_until(
        self, condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if loop.time() > deadline:
                raise TimeoutError(f"{self.user_id}: timed out waiting for {what}")
            await self.sync(timeout_ms=1000)

    async def create_encrypted_room(self, invite: list[str]) -> str:
        resp = await self.client.room_create(invite=invite, initial_state=[ENCRYPTION_STATE])
        if not isinstance(resp, RoomCreateResponse):
            raise RuntimeError(f"room creation failed: {resp}")
        await self.sync()
        return resp.room_id

    async def accept_invite(self, room_id: str, timeout: float = 30.0) -> None:
        """Join once the invite has arrived, retrying: federated invites can race the join."""
        await self.sync_until(
            lambda: room_id in self.client.invited_rooms or room_id in self.client.rooms,
            timeout,
            "the invite",
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.2
        while True:
            resp = await self.client.join(room_id)
            if not isinstance(resp, JoinError):
                break
            if loop.time() > deadline:
                raise RuntimeError(f"join failed: {resp}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        await self.sync_until(lambda: room_id in self.client.rooms, timeout, "the join")

    async def wait_for_member(self, room_id: str, user_id: str, timeout: float = 30.0) -> None:
        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            return room is not None and user_id in room.users

        await self.sync_until(joined, timeout, f"{user_id} to join")

    async def send_text(self, room_id: str, body: str, msgtype: str = "m.text") -> str:
        resp = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": msgtype, "body": body, "m.mentions": {}},
            ignore_unverified_devices=True,
        )
        event_id = getattr(resp, "event_id", None)
        if event_id is None:
            raise RuntimeError(f"send failed: {resp}")
        return event_id

    async def send_encrypted(self, room_id: str, event_type: str, content: dict[str, Any]) -> Any:
        """Any event type encrypted in an encrypted room (nio's room_send leaves reactions
        in the clear); the relation stays visible to the server, as the spec says."""
        client = self.client
        room = client.rooms[room_id]
        if room.encrypted:
            if not room.members_synced:
                await client.joined_members(room_id)
            if client.should_query_keys:
                await client.keys_query()
            assert client.olm is not None
            if client.olm.should_share_group_session(room_id):
                await client.share_group_session(room_id, ignore_unverified_devices=True)
            event_type, content = client.encrypt(room_id, event_type, content)
        method, path, data = Api.room_send(
            client.access_token, room_id, event_type, content, uuid.uuid4().hex
        )
        return await client._send(RoomSendResponse, method, path, data, (room_id,))

    def texts(self, room_id: str, sender: str | None = None) -> list[str]:
        return [
            e.body
            for r, e in self.messages
            if r == room_id and (sender is None or e.sender == sender)
        ]

    async def close(self) -> None:
        # Never log out: that deletes the device's keys on the server.
        await self.client.close()


async def login_device(hs: Homeserver, user: RegisteredUser) -> RegisteredUser:
    """A password login: the same user on a new device."""
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user.user_id},
        "password": user.password,
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{hs.base_url}/_matrix/client/v3/login", json=body) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"login failed: {resp.status} {data.get('errcode')}")
    return RegisteredUser(user.user_id, user.password, data["access_token"], data["device_id"])


def is_invite_for(event: Any, user_id: str) -> bool:
    return isinstance(event, InviteMemberEvent) and event.state_key == user_id
