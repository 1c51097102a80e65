"""Device policy ``cross-signed``: room keys only for devices their owner cross-signed,
identity changes announced and blocked until staff confirm."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from nacl.signing import SigningKey
from nio import MegolmEvent

from partner_bots.cross_signing import CrossSigning, CrossSigningKeys
from partner_bots.device_trust import (
    DevicePolicy,
    MasterKeyPins,
    PinResult,
    cross_signed_devices,
    identity_from_query,
)
from partner_bots.raw_api import RawApi
from partner_bots.render.notice import notice
from partner_bots.signing import sign_json
from tests.matrix.conftest import PICKLE_KEY, MemoryRegistry, RecordingSink, bot_room, wait_joined


def _query_body(user: str, keys: CrossSigningKeys, device_signer: SigningKey) -> dict:
    objs = keys.key_objects(user)
    device = {"user_id": user, "device_id": "D1", "algorithms": [], "keys": {"ed25519:D1": "x"}}
    return {
        "master_keys": {user: objs["master_key"]},
        "self_signing_keys": {user: objs["self_signing_key"]},
        "device_keys": {user: {"D1": sign_json(device, user, device_signer), "D2": device}},
    }


def test_cross_signature_checks():
    user = "@p:x"
    keys = CrossSigningKeys.generate()
    body = _query_body(user, keys, keys.self_signing)
    identity = identity_from_query(body, user)
    assert identity.self_signing_key is not None
    assert cross_signed_devices(body, identity) == {"D1"}
    # Signed by a key that is not the user's self-signing key: not cross-signed.
    forged = _query_body(user, keys, SigningKey.generate())
    assert cross_signed_devices(forged, identity_from_query(forged, user)) == set()
    # A self-signing key the master did not sign is worthless.
    other = CrossSigningKeys.generate()
    body["self_signing_keys"][user] = other.key_objects(user)["self_signing_key"]
    assert identity_from_query(body, user).self_signing_key is None


def test_master_key_pins(tmp_path: Path):
    pins = MasterKeyPins(tmp_path / "pins.json")
    assert pins.observe("@a:x", "K1") is PinResult.NEW
    assert pins.observe("@a:x", "K1") is PinResult.SAME
    assert pins.observe("@a:x", "K2") is PinResult.CHANGED
    assert pins.observe("@a:x", "K2") is PinResult.SAME  # reported once
    assert MasterKeyPins(tmp_path / "pins.json").unconfirmed == {"@a:x": "K2"}  # persisted
    assert pins.confirm("@a:x") and pins.pins["@a:x"] == "K2" and not pins.unconfirmed


def _cross_signer(partner, tmp_path: Path) -> CrossSigning:
    """Our bootstrap code, pointed at a plain nio test client's account."""
    ident = SimpleNamespace(
        user_id=partner.user_id,
        device_id=partner.user.device_id,
        raw=RawApi(partner.hs.base_url, partner.user.access_token),
        client=partner.client,  # its olm account holds the device keys that get signed
        account=SimpleNamespace(
            store_path=tmp_path / uuid.uuid4().hex,
            pickle_key=PICKLE_KEY,
            password=partner.user.password,
        ),
    )
    return CrossSigning(ident)  # type: ignore[arg-type]


@pytest.mark.synapse
async def test_cross_signed_policy(homeserver, running_bots, partners, tmp_path: Path):
    registry, sink = MemoryRegistry(), RecordingSink()
    bot = await running_bots(homeserver, registry, sink, device_policy=DevicePolicy.CROSS_SIGNED)
    signed, unsigned = await partners(homeserver, "signed"), await partners(homeserver, "unsigned")
    signer = _cross_signer(signed, tmp_path)
    try:
        await _scenario(bot, registry, signed, unsigned, signer)
    finally:
        await signer.session.raw.close()


async def _scenario(bot, registry, signed, unsigned, signer) -> None:
    await signer.ensure()
    room = await bot_room(signed, bot, registry)
    await signed.client.room_invite(room, unsigned.user_id)
    await unsigned.accept_invite(room)
    await wait_joined(signed, room, unsigned.user_id)

    async def say(text: str) -> str:
        return (await bot.sender.send(room, "m.room.message", notice(text))).event_id

    def decrypted(p, event_id: str) -> bool:
        return any(
            r == room and e.event_id == event_id and not isinstance(e, MegolmEvent)
            for r, e in p.events
        )

    def undecrypted(p, event_id: str) -> bool:
        return any(e.event_id == event_id for r, e in p.undecrypted if r == room)

    first = await say("one")
    await signed.sync_until(lambda: decrypted(signed, first), what="first, signed")
    await unsigned.sync_until(lambda: undecrypted(unsigned, first), what="first, unsigned")
    assert not decrypted(unsigned, first)

    # The signed partner resets their identity: announced, and blocked until confirmed.
    (signer.session.account.store_path / "cross_signing.sealed").unlink()
    await signer.ensure()

    # The notice goes to the room; the changed identity itself no longer gets the key.
    await _until(lambda: any(u == signed.user_id for u, _, _ in bot.trust.announced))
    ((_, where, notice_id),) = bot.trust.announced
    assert where == room
    await signed.sync_until(lambda: undecrypted(signed, notice_id), what="the notice, blocked")
    assert signed.user_id in bot.trust.pins.unconfirmed
    second = await say("two")
    await signed.sync_until(lambda: undecrypted(signed, second), what="second, blocked")

    assert await bot.trust.confirm(signed.user_id)
    third = await say("three")
    await signed.sync_until(lambda: decrypted(signed, third), what="third, confirmed")


async def _until(condition, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)
