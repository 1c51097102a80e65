"""Which of a partner's devices get room keys, and whose commands count: policy
``cross-signed`` (the default) or ``tofu``.

nio has no cross-signing, so we verify the signatures ourselves from ``/keys/query``:
a device counts as cross-signed when its keys carry a valid signature by the user's
self-signing key, and that key a valid signature by the user's master key. Master keys
are pinned on first sight. When one changes, the bot says so in every room it shares
with that user and, under either policy, stops sharing keys with that user's devices and
counting their commands until staff confirm the new identity (``confirm``). Under
``tofu`` every device counts, and a member's devices added after the bot first saw them
are announced in the rooms it shares with them (docs/security.md, "Whose words count").
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
from nio.crypto import OlmDevice

from coordinator.logs import get_logger
from partner_bots.events import Origin
from partner_bots.render.notice import notice
from partner_bots.sending import Sender, SendError
from partner_bots.session import BotSession
from partner_bots.signing import single_key, verify_json
from partner_bots.standing import DeviceStanding, SenderDevice

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
    return set(cross_signed_keys(body, identity))


def cross_signed_keys(body: dict[str, Any], identity: UserIdentity) -> dict[str, str]:
    """Cross-signed device id → the ed25519 key the signature covers."""
    if identity.self_signing_key is None:
        return {}
    ssk = identity.self_signing_key
    devices = body.get("device_keys", {}).get(identity.user_id, {})
    signed: dict[str, str] = {}
    for device_id, keys in devices.items():
        if isinstance(keys, dict) and verify_json(keys, identity.user_id, f"ed25519:{ssk}", ssk):
            ed25519 = (keys.get("keys") or {}).get(f"ed25519:{device_id}")
            if isinstance(ed25519, str):
                signed[device_id] = ed25519
    return signed


def device_ids_of(body: dict[str, Any], user_id: str) -> set[str]:
    devices = body.get("device_keys", {}).get(user_id, {})
    return {d for d, keys in devices.items() if isinstance(keys, dict)}


def standing_of(
    policy: DevicePolicy,
    *,
    identity_confirmed: bool,
    device: str | None,
    device_key: str | None,
    signed: dict[str, str],
) -> DeviceStanding:
    """The decision, apart from the crypto that feeds it (unit-tested on its own).

    ``device`` is the sender's device holding the event's session (None: none does) and
    ``device_key`` its ed25519 key; ``signed`` maps cross-signed device ids to the key the
    signature covers, so a device id re-used with other keys is not cross-signed.
    """
    if not identity_confirmed:  # nothing of theirs counts, whatever the device
        return DeviceStanding.IDENTITY_CHANGED
    if device is None or device_key is None:
        return DeviceStanding.UNKNOWN_DEVICE
    if policy is DevicePolicy.TOFU or signed.get(device) == device_key:
        return DeviceStanding.TRUSTED
    return DeviceStanding.NOT_CROSS_SIGNED


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

    def confirm(self, user_id: str, expected: str | None = None) -> bool:
        """Pin the changed identity; with ``expected``, only if it is still that key."""
        new = self.unconfirmed.get(user_id)
        if new is None or (expected is not None and new != expected):
            return False
        del self.unconfirmed[user_id]
        self.pins[user_id] = new
        self._save()
        return True

    def _save(self) -> None:
        _write_json(self.path, {"pins": self.pins, "unconfirmed": self.unconfirmed})


class KnownDevices:
    """user id → the device ids the bot has seen, so only later ones are announced."""

    def __init__(self, path: Path):
        self.path = path
        self.devices: dict[str, list[str]] = {}
        try:
            self.devices = json.loads(path.read_text())["devices"]
        except FileNotFoundError:
            pass

    def observe(self, user_id: str, device_ids: set[str]) -> list[str]:
        """The devices not seen before; none on the first sight of a user."""
        known = self.devices.get(user_id)
        if known is not None and device_ids <= set(known):
            return []
        new = [] if known is None else sorted(device_ids - set(known))
        self.devices[user_id] = sorted(device_ids | set(known or ()))
        _write_json(self.path, {"devices": self.devices})
        return new


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def identity_change_notice(user_id: str, policy: DevicePolicy) -> dict[str, Any]:
    return notice(
        f"Security notice: the cryptographic identity of {user_id} has changed. This is "
        "expected after they reset their encryption; if they did not, treat messages from "
        "this account with care. Until staff confirm the new identity, I will not share "
        "encrypted messages with their devices or act on their commands.",
        mention=[user_id],
        extra={"org.dsx.identity_change": {"user_id": user_id, "policy": policy.value}},
    )


def new_device_notice(user_id: str, device_id: str) -> dict[str, Any]:
    return notice(
        f"Security notice: {user_id} has a new device ({device_id}), and I will act on its "
        "commands. If you did not add it, sign that session out and tell staff at once.",
        mention=[user_id],
        extra={"org.dsx.new_device": {"user_id": user_id, "device_id": device_id}},
    )


@dataclass(frozen=True)
class Announcement:
    user_id: str
    device_id: str | None  # None: the identity changed; else the new device


class DeviceTrust:
    """A sync observer that applies the device policy to nio's device store."""

    def __init__(self, session: BotSession, sender: Sender, policy: DevicePolicy):
        self.session = session
        self.sender = sender
        self.policy = policy
        self.pins = MasterKeyPins(session.account.store_path / "master_key_pins.json")
        self.known = KnownDevices(session.account.store_path / "known_devices.json")
        self.evaluated: set[str] = set()
        self.signed: dict[str, dict[str, str]] = {}  # user → cross-signed device → ed25519
        self._announce: list[Announcement] = []
        self.announced: list[tuple[str, str, str]] = []  # (user, room, event id)
        self.devices_announced: list[tuple[str, str, str]] = []  # (device, room, event id)

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
                    self._announce.append(Announcement(user_id, None))
                blocked = user_id in self.pins.unconfirmed
            new_devices = self.known.observe(user_id, device_ids_of(resp.body, user_id))
            if self.policy is DevicePolicy.TOFU:
                self._announce += [Announcement(user_id, d) for d in new_devices]
            self.signed[user_id] = cross_signed_keys(resp.body, identity)
            changed_any |= self._apply(user_id, set(self.signed[user_id]), blocked)
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
                # pinned: nio keeps the first keys it saw for a device id
                trusted = not blocked
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
        """Say in each shared room that an identity changed or a device was added (outside
        the crypto lock)."""
        while self._announce:
            await self._announce_one(self._announce.pop(0))

    async def _announce_one(self, what: Announcement) -> None:
        user_id = what.user_id
        if what.device_id is None:
            content = identity_change_notice(user_id, self.policy)
            tx_id = f"dsx-identity-{self.pins.unconfirmed.get(user_id, '')[:16]}"
        else:
            content = new_device_notice(user_id, what.device_id)
            tx_id = f"dsx-device-{user_id}-{what.device_id}"
        for room_id, room in self.session.client.rooms.items():
            if user_id not in room.users:
                continue
            try:
                sent = await self.sender.send(
                    room_id, "m.room.message", content, tx_id=f"{tx_id}-{room_id}"
                )
            except SendError as exc:
                log.warning("trust.announce_failed", code=exc.code)
                continue
            if what.device_id is None:
                self.announced.append((user_id, room_id, sent.event_id))
            else:
                self.devices_announced.append((what.device_id, room_id, sent.event_id))

    # -- whose words count ---------------------------------------------------------------

    def _device_of(self, room_id: str, user_id: str, origin: Origin) -> OlmDevice | None:
        """The sender's device that shared the event's megolm session with us, or None.

        The session's curve25519 key came over Olm, so it names the device for certain;
        a forwarded session only names whoever forwarded it, so it names nobody.
        """
        olm = self.session.client.olm
        if olm is None:
            return None
        group = olm.inbound_group_store.get(room_id, origin.sender_key, origin.session_id)
        if group is None or group.forwarding_chain:
            return None
        device = olm.device_store.device_from_sender_key(user_id, origin.sender_key)
        if device is None or device.deleted or device.ed25519 != group.ed25519:
            return None
        return device

    async def standing(self, room_id: str, user_id: str, origin: Origin | None) -> SenderDevice:
        """Whether the device behind an event satisfies the device policy right now."""
        if origin is None:
            return SenderDevice.unknown()
        device = self._device_of(room_id, user_id, origin)
        if user_id not in self.evaluated or device is None:
            # Not evaluated since the start, or a device we have not queried yet.
            olm = self.session.client.olm
            if device is None and olm is not None:
                olm.users_for_key_query.add(user_id)
            async with self.session.crypto_lock:
                await self.refresh([user_id])
            device = self._device_of(room_id, user_id, origin)
        decision = standing_of(
            self.policy,
            identity_confirmed=user_id not in self.pins.unconfirmed,
            device=device.id if device else None,
            device_key=device.ed25519 if device else None,
            signed=self.signed.get(user_id, {}),
        )
        if decision is not DeviceStanding.TRUSTED:
            log.info("trust.command_device", standing=decision.value)
        return SenderDevice(decision, device.id if device else None)

    def pending(self) -> dict[str, str]:
        """User → changed master key, for identities awaiting a staff confirmation."""
        return dict(self.pins.unconfirmed)

    async def confirm(self, user_id: str, expected: str | None = None) -> bool:
        """Staff accepted the new identity: trust its devices and count its commands again."""
        if not self.pins.confirm(user_id, expected):
            return False
        self.evaluated.discard(user_id)
        async with self.session.crypto_lock:
            await self.refresh([user_id])
        return True


class IdentityConfirmations:
    """Every bot account's pins at once: each account pins identities on its own."""

    def __init__(self, trusts: Iterable[DeviceTrust]):
        self.trusts = tuple(trusts)

    def pending(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for trust in self.trusts:
            found.update(trust.pending())
        return dict(sorted(found.items()))

    async def confirm(self, user_id: str, expected: str) -> bool:
        done = False
        for trust in self.trusts:
            done |= await trust.confirm(user_id, expected)
        return done
