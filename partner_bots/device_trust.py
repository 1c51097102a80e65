"""Which of a partner's devices get room keys: policy ``tofu`` or ``cross-signed``.

nio has no cross-signing, so we verify the signatures ourselves from ``/keys/query``:
a device counts as cross-signed when its keys carry a valid signature by the user's
self-signing key, and that key a valid signature by the user's master key. Master keys
are pinned on first sight. When one changes, the bot says so in every room it shares
with that user; under ``cross-signed`` it stops sharing keys with that user's devices
until staff confirm the new identity (``confirm``).
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import MegolmEvent, SyncResponse

from coordinator.logs import get_logger
from partner_bots.sending import Sender, SendError, notice
from partner_bots.session import BotSession
from partner_bots.signing import single_key, verify_json

log = get_logger(__name__)


class DevicePolicy(enum.Enum):
    TOFU = "tofu"
    CROSS_SIGNED = "cross-signed"


@dataclass(frozen=True)
class UserIdentity:
    user_id: str
    master_key: str | None
    self_signing_key: str | None  # only when validly signed by the master key


def identity_from_query(body: dict[str, Any], user_id: str) -> UserIdentity:
    master = single_key(body.get("master_keys", {}).get(user_id, {}))
    ssk_obj = body.get("self_signing_keys", {}).get(user_id, {})
    ssk = single_key(ssk_obj)
    if (
        master is None
        or ssk is None
        or not verify_json(ssk_obj, user_id, f"ed25519:{master}", master)
    ):
        ssk = None
    return UserIdentity(user_id, master, ssk)


def cross_signed_devices(body: dict[str, Any], identity: UserIdentity) -> set[str]:
    """Device ids whose keys carry a valid signature by the user's self-signing key."""
    if identity.self_signing_key is None:
        return set()
    ssk = identity.self_signing_key
    devices = body.get("device_keys", {}).get(identity.user_id, {})
    return {
        device_id
        for device_id, keys in devices.items()
        if isinstance(keys, dict) and verify_json(keys, identity.user_id, f"ed25519:{ssk}", ssk)
    }


class PinResult(enum.Enum):
    NEW = "new"
    SAME = "same"
    CHANGED = "changed"


class MasterKeyPins:
    """user id → pinned master key, plus users whose changed identity awaits staff."""

    def __init__(self, path: Path):
        self.path = path
        self.pins: dict[str, str] = {}
        self.unconfirmed: dict[str, str] = {}
        try:
            doc = json.loads(path.read_text())
            self.pins, self.unconfirmed = doc["pins"], doc["unconfirmed"]
        except FileNotFoundError:
            pass

    def observe(self, user_id: str, master: str) -> PinResult:
        pinned = self.pins.get(user_id)
        if pinned is None:
            self.pins[user_id] = master
            self._save()
            return PinResult.NEW
        if pinned == master:
            return PinResult.SAME
        if self.unconfirmed.get(user_id) == master:
            return PinResult.SAME  # already reported, still waiting for staff
        self.unconfirmed[user_id] = master
        self._save()
        return PinResult.CHANGED

    def confirm(self, user_id: str) -> bool:
        new = self.unconfirmed.pop(user_id, None)
        if new is None:
            return False
        self.pins[user_id] = new
        self._save()
        return True

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"pins": self.pins, "unconfirmed": self.unconfirmed}, f)
        os.replace(tmp, self.path)


def identity_change_notice(user_id: str, policy: DevicePolicy) -> dict[str, Any]:
    tail = (
        " Until staff confirm the new identity, I will not share encrypted messages with "
        "their devices."
        if policy is DevicePolicy.CROSS_SIGNED
        else ""
    )
    return notice(
        f"Security notice: the cryptographic identity of {user_id} has changed. This is "
        "expected after they reset their encryption; if they did not, treat messages from "
        f"this account with care.{tail}",
        mention=[user_id],
        extra={"org.dsx.identity_change": {"user_id": user_id}},
    )


class DeviceTrust:
    """A sync observer that applies the device policy to nio's device store."""

    def __init__(self, session: BotSession, sender: Sender, policy: DevicePolicy):
        self.session = session
        self.sender = sender
        self.policy = policy
        self.pins = MasterKeyPins(session.account.store_path / "master_key_pins.json")
        self.evaluated: set[str] = set()
        self._announce: list[str] = []
        self.announced: list[tuple[str, str, str]] = []  # (user, room, event id)

    # -- SyncObserver --------------------------------------------------------------------

    async def before_dispatch(self, resp: SyncResponse) -> None:
        changed = set(resp.device_list.changed) - {self.session.user_id}
        self.evaluated -= changed
        async with self.session.crypto_lock:
            await self.refresh(changed & self._room_users())
        await self.flush_announcements()

    def may_dispatch(self, room_id: str) -> bool:
        return True

    def hold(self, room_id: str, event: MegolmEvent) -> bool:
        return False

    async def after_dispatch(self, resp: SyncResponse, dispatch: object) -> None:
        await self.flush_announcements()

    # -- policy --------------------------------------------------------------------------

    def _room_users(self, room_id: str | None = None) -> set[str]:
        rooms = self.session.client.rooms
        selected = [rooms[room_id]] if room_id in rooms else [] if room_id else rooms.values()
        return {u for r in selected for u in r.users} - {self.session.user_id}

    async def prepare_room(self, room_id: str) -> None:
        """Called (under the crypto lock) before sharing a room key: evaluate new members."""
        await self.refresh(self._room_users(room_id) - self.evaluated)

    async def refresh(self, users: Iterable[str]) -> None:
        """Re-evaluate ``users``; the caller holds the session's crypto lock."""
        users = sorted(set(users))
        if not users:
            return
        client = self.session.client
        if client.should_query_keys:
            await client.keys_query()
        resp = await self.session.raw.keys_query({u: [] for u in users})
        if not resp.ok:
            log.warning("trust.query_failed", status=resp.status)
            return
        changed_any = False
        for user_id in users:
            identity = identity_from_query(resp.body, user_id)
            blocked = False
            if identity.master_key is not None:
                pin = self.pins.observe(user_id, identity.master_key)
                if pin is PinResult.CHANGED:
                    log.warning("trust.identity_changed", policy=self.policy.value)
                    self._announce.append(user_id)
                blocked = user_id in self.pins.unconfirmed
            signed = cross_signed_devices(resp.body, identity)
            changed_any |= self._apply(user_id, signed, blocked)
            self.evaluated.add(user_id)
        if changed_any:
            # Devices that lost trust may hold the current room keys: start new sessions.
            for room_id in list(client.rooms):
                if client.olm and room_id in client.olm.outbound_group_sessions:
                    client.invalidate_outbound_session(room_id)

    def _apply(self, user_id: str, cross_signed: set[str], blocked: bool) -> bool:
        client = self.session.client
        olm = client.olm
        assert olm is not None
        changed = False
        for device in olm.device_store.active_user_devices(user_id):
            if self.policy is DevicePolicy.TOFU:
                trusted = True  # pinned: nio keeps the first keys it saw for a device id
            else:
                trusted = device.id in cross_signed and not blocked
            if trusted:
                if olm.is_device_blacklisted(device):
                    client.unblacklist_device(device)
                    changed = True
                if not olm.is_device_verified(device):
                    client.verify_device(device)
            elif not olm.is_device_blacklisted(device):
                client.blacklist_device(device)
                changed = True
                log.info("trust.device_blocked", policy=self.policy.value)
        return changed

    async def flush_announcements(self) -> None:
        """Say in each shared room that an identity changed (outside the crypto lock)."""
        while self._announce:
            await self._announce_change(self._announce.pop(0))

    async def _announce_change(self, user_id: str) -> None:
        new_key = self.pins.unconfirmed.get(user_id, "")
        for room_id, room in self.session.client.rooms.items():
            if user_id not in room.users:
                continue
            try:
                sent = await self.sender.send(
                    room_id,
                    "m.room.message",
                    identity_change_notice(user_id, self.policy),
                    tx_id=f"dsx-identity-{new_key[:16]}-{room_id}",
                )
            except SendError as exc:
                log.warning("trust.announce_failed", code=exc.code)
                continue
            self.announced.append((user_id, room_id, sent.event_id))

    async def confirm(self, user_id: str) -> bool:
        """Staff accepted the new identity: trust its cross-signed devices again."""
        if not self.pins.confirm(user_id):
            return False
        self.evaluated.discard(user_id)
        async with self.session.crypto_lock:
            await self.refresh([user_id])
        return True
