"""One bot account's Matrix session: persistent E2EE store, fixed device, never logged out.

Lessons baked in (see matrix-notes.md §2.3): logging out deletes the device's keys on the
server while nio's store still believes they are uploaded, and a changed device id with the
same store breaks decryption. So the device id is fixed by configuration, the access token
is kept sealed next to the store, ``close()`` never logs out, and ``open()`` checks that the
server still holds this device's identity key and re-uploads it if it does not.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nio import KeysUploadError, LoginResponse

from coordinator.config import Config
from coordinator.logs import get_logger
from partner_bots.client import BotClient, client_config
from partner_bots.raw_api import RawApi
from partner_bots.sealed import SealedFile

log = get_logger(__name__)


class SessionError(RuntimeError):
    """The session cannot be brought up safely; the operator must act."""


@dataclass(frozen=True)
class BotAccount:
    """What configuration says about one bot account."""

    homeserver_url: str
    user_id: str
    device_id: str
    store_path: Path
    pickle_key: str
    password: str = ""
    access_token: str = ""

    @classmethod
    def from_config(cls, config: Config) -> BotAccount:
        m = config.matrix
        if not m.pickle_key:
            raise SessionError(f"{config.source}: matrix.pickle_key is required for E2EE")
        return cls(
            homeserver_url=m.homeserver_url,
            user_id=m.user_id,
            device_id=m.device_id,
            store_path=config.store_path,
            pickle_key=m.pickle_key,
            password=m.password,
            access_token=m.access_token,
        )

    def __post_init__(self) -> None:
        if not (self.password or self.access_token):
            raise SessionError(f"{self.device_id}: a password or an access token is required")
        if len(self.pickle_key) < 16:
            raise SessionError("the pickle key must be at least 16 characters")


class KeyCheck:
    """Outcome of the start-up check of the device's keys on the server."""

    PRESENT = "present"
    FIRST_UPLOAD = "first_upload"
    REUPLOADED = "reuploaded"


class BotSession:
    """Owns the nio client, the raw API handle and the lock that serialises key work.

    ``crypto_lock`` must be held around key queries/claims/uploads and group-session
    sharing: nio raises ``LocalProtocolError('No key query required.')`` when two tasks
    race on them, which silently killed ``sync_forever`` in practice.
    """

    def __init__(self, account: BotAccount):
        self.account = account
        self.crypto_lock = asyncio.Lock()
        self._credentials = SealedFile(
            account.store_path / "session.sealed", account.pickle_key, "session"
        )
        self._client: BotClient | None = None
        self._raw: RawApi | None = None
        self.key_check: str | None = None

    @property
    def client(self) -> BotClient:
        if self._client is None:
            raise SessionError("session is not open")
        return self._client

    @property
    def raw(self) -> RawApi:
        if self._raw is None:
            raise SessionError("session is not open")
        return self._raw

    @property
    def user_id(self) -> str:
        return self.account.user_id

    @property
    def device_id(self) -> str:
        return self.account.device_id

    @property
    def fresh_store(self) -> bool:
        """True until the first sync token is saved: such a store must skip history."""
        return not (self.client.loaded_sync_token or self.client.next_batch)

    async def open(self) -> None:
        acc = self.account
        acc.store_path.mkdir(parents=True, exist_ok=True)
        acc.store_path.chmod(0o700)
        client = BotClient(
            acc.homeserver_url,
            acc.user_id,
            device_id=acc.device_id,
            store_path=str(acc.store_path),
            config=client_config(acc.pickle_key),
        )
        self._client = client
        token = acc.access_token or (self._credentials.read() or {}).get("access_token", "")
        if token:
            client.restore_login(acc.user_id, acc.device_id, token)
            if await self._token_valid(token) or not acc.password:
                log.info("session.restored", device=acc.device_id)
            else:
                # The token died (device deleted, admin logout): same device id, new token.
                await self._login(client)
        else:
            await self._login(client)
        assert client.store is not None
        client.loaded_sync_token = client.store.load_sync_token() or ""
        self._raw = RawApi(acc.homeserver_url, client.access_token)
        self.key_check = await self._ensure_keys_on_server()

    async def _login(self, client: BotClient) -> None:
        acc = self.account
        resp = await client.login(acc.password, device_name="DSX coordinator")
        if not isinstance(resp, LoginResponse):
            raise SessionError(f"login failed: {resp}")
        if resp.device_id != acc.device_id:
            raise SessionError("the homeserver assigned a different device id")
        self._credentials.write({"access_token": resp.access_token})
        log.info("session.logged_in", device=acc.device_id)

    async def _token_valid(self, token: str) -> bool:
        probe = RawApi(self.account.homeserver_url, token)
        try:
            resp = await probe.request("GET", "/_matrix/client/v3/account/whoami")
        finally:
            await probe.close()
        if resp.status == 401:
            return False
        if not resp.ok:
            raise SessionError(f"homeserver unavailable at start-up: {resp.status}")
        if resp.body.get("device_id") not in (None, self.account.device_id):
            raise SessionError("the stored token belongs to another device")
        return True

    async def _ensure_keys_on_server(self) -> str:
        """Repair missing device keys; refuse to run with keys the server disagrees on."""
        client = self.client
        assert client.olm is not None
        ours = client.olm.account.identity_keys["ed25519"]
        resp = await self.raw.keys_query({self.user_id: [self.device_id]})
        if not resp.ok:
            raise SessionError(f"key query failed at start-up: {resp.status} {resp.errcode}")
        device = resp.body.get("device_keys", {}).get(self.user_id, {}).get(self.device_id)
        server_key = (device or {}).get("keys", {}).get(f"ed25519:{self.device_id}")
        if server_key == ours:
            outcome = KeyCheck.PRESENT
        elif server_key is None and not client.olm.account.shared:
            outcome = KeyCheck.FIRST_UPLOAD
        elif server_key is None:
            # The store believes its keys are shared; make nio upload them again.
            client.olm.account.shared = False
            outcome = KeyCheck.REUPLOADED
        else:
            raise SessionError(
                "the server holds other identity keys for this device: the store does not "
                "belong to it (restore the right store, or configure a new device id)"
            )
        async with self.crypto_lock:
            if client.should_upload_keys:
                up = await client.keys_upload()
                if isinstance(up, KeysUploadError):
                    raise SessionError(f"key upload failed: {up}")
        log.info("session.keys_checked", outcome=outcome)
        return outcome

    async def close(self) -> None:
        """Release connections. Never log out: that deletes the device's keys on the server."""
        if self._client is not None:
            await self._client.close()
        if self._raw is not None:
            await self._raw.close()
        log.info("session.closed", device=self.account.device_id)


def on_sigterm(stop: Callable[[], None]) -> Callable[[], None]:
    """Call ``stop`` on SIGTERM/SIGINT (graceful: the sync loop finishes the event in hand).

    Returns a function that removes the handlers again.
    """
    loop = asyncio.get_running_loop()
    sigs = (signal.SIGTERM, signal.SIGINT)
    for sig in sigs:
        loop.add_signal_handler(sig, stop)

    def remove() -> None:
        for sig in sigs:
            loop.remove_signal_handler(sig)

    return remove
