"""A person's Matrix client, as the demo and the tests use it: a real matrix-nio E2EE
client with a persistent store that sends, reacts, cross-signs and records what it
decrypts.

One client for both (``dsx/demo`` scripts people with it, ``tests/harness`` builds the
tests' members on it), so what the demo shows is what the tests check. Waits are
condition-based (sync until something is true) with generous deadlines, so neither is
flaky on a loaded machine; a timeout names what it was waiting for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from partner_bots.cross_signing import CrossSigning, CrossSigningStatus
from partner_bots.homeserver.synapse import Homeserver, RegisteredUser
from partner_bots.raw_api import RawApi

# Seals a client's cross-signing keys at rest (as the bot's pickle key does its own).
CROSS_SIGNING_SEAL = "test-client-cross-signing-key"

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


class UserClient:
    """One device of one user, with a persistent E2EE store."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        hs: Homeserver,
        user: RegisteredUser,
        store: Path,
        keys: Path | None = None,
        *,
        label: str | None = None,
    ):
        store.mkdir(parents=True, exist_ok=True)
        self.hs = hs
        self.user = user
        self.label = label or user.user_id  # how the demo's transcript names them
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
        self.messages: list[tuple[str, RoomMessageText]] = []  # decrypted m.text
        self.seen: list[Seen] = []  # decrypted m.text and m.notice, with their content
        self.undecrypted: list[tuple[str, MegolmEvent]] = []  # waiting for their keys

    @classmethod
    async def create(cls, hs: Homeserver, store_root: Path, name: str = "user") -> UserClient:
        """A newly registered user, signed in, keys uploaded and synced once."""
        user = await hs.register(f"{name}-{uuid.uuid4().hex[:8]}")
        client = cls(hs, user, store_root / user.user_id.strip("@").replace(":", "_"))
        await client.start()
        return client

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def start(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        await self.sync()

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

    async def new_device(self, store_root: Path) -> UserClient:
        """The same user signed in on another device (not cross-signed until asked)."""
        user = await login_device(self.hs, self.user)
        other = type(self)(self.hs, user, store_root / user.device_id, keys=self.keys_dir)
        await other.start()
        return other

    # -- syncing and what was seen -----------------------------------------------------

    async def _sync_request(self, timeout_ms: int) -> Any:
        return await self.client.sync(timeout=timeout_ms, full_state=True)

    async def sync(self, timeout_ms: int = 0) -> SyncResponse:
        resp = await self._sync_request(timeout_ms)
        if not isinstance(resp, SyncResponse):
            raise RuntimeError(f"{self.label}: sync failed: {type(resp).__name__}")
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
        if isinstance(event, RoomMessageText | RoomMessageNotice):
            content = event.source.get("content", {})
            self.seen.append(Seen(room_id, event.event_id, event.sender, event.body, content))
        elif isinstance(event, MegolmEvent):
            self.undecrypted.append((room_id, event))

    async def read_history(self, room_id: str, limit: int = 50) -> None:
        """Page back through ``/messages``, as a client does after a federated join: the
        joining server receives the room's state, not its earlier timeline."""
        resp = await self.client.room_messages(room_id, limit=limit)
        chunk = getattr(resp, "chunk", None)
        if chunk is None:
            raise RuntimeError(f"{self.label}: /messages failed: {resp}")
        known = {s.event_id for s in self.seen if s.room_id == room_id}
        known |= {e.event_id for r, e in self.undecrypted if r == room_id}
        for event in reversed(chunk):
            if getattr(event, "event_id", None) in known:
                continue
            if isinstance(event, MegolmEvent):
                try:
                    event = self.client.decrypt_event(event)
                except Exception:
                    self.undecrypted.append((room_id, event))
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

    async def sync_until(
        self, condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
    ) -> None:
        """``wait_for`` for a yes/no condition."""
        await self.wait_for(condition, what, timeout)

    def find(
        self, room_id: str, key: str, after: int = 0, sender: str | None = None
    ) -> Seen | None:
        """The first message in ``room_id`` (from index ``after``) carrying block ``key``."""
        for seen in self.seen[after:]:
            if seen.room_id == room_id and key in seen.content:
                if sender is None or seen.sender == sender:
                    return seen
        return None

    def texts(self, room_id: str, sender: str | None = None) -> list[str]:
        return [
            e.body
            for r, e in self.messages
            if r == room_id and (sender is None or e.sender == sender)
        ]

    # -- rooms -------------------------------------------------------------------------

    async def create_encrypted_room(self, invite: list[str], name: str | None = None) -> str:
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

    async def wait_for_member(
        self, room_id: str, user_id: str, timeout: float = 60.0, *, joined: bool = False
    ) -> None:
        """Until ``user_id`` is in the room (``joined``: has joined, not only invited;
        nio counts invited users in ``users``)."""

        def present() -> bool:
            room = self.client.rooms.get(room_id)
            if room is None or user_id not in room.users:
                return False
            return not joined or user_id not in room.invited_users

        await self.wait_for(present, f"{user_id} to join", timeout)

    # -- sending -----------------------------------------------------------------------

    async def send_text(self, room_id: str, body: str, msgtype: str = "m.text") -> str:
        resp = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": msgtype, "body": body, "m.mentions": {}},
            ignore_unverified_devices=True,
        )
        event_id = getattr(resp, "event_id", None)
        if event_id is None:
            raise RuntimeError(f"{self.label}: send failed: {resp}")
        return str(event_id)

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

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """An encrypted reaction, as Element sends it (nio would send it in the clear)."""
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        resp = await self.send_encrypted(room_id, "m.reaction", content)
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"{self.label}: reaction failed: {resp}")
        return resp.event_id

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
