"""Whose words count, without a homeserver: the device decision and the dispatcher's rule
(state changes only from a device that meets the policy; reading from any device)."""

from __future__ import annotations

from pathlib import Path

import pytest

from partner_bots.commands import REGISTRY, ErrorCode
from partner_bots.commands import run_text as run_text_in
from partner_bots.device_trust import DevicePolicy, KnownDevices, MasterKeyPins, standing_of
from partner_bots.standing import REFUSALS, DeviceStanding, SenderDevice
from tests.commands.fakes import FakeCore, context


async def run_text(text, ctx):
    return await run_text_in(text, ctx, REGISTRY)


CS, TOFU = DevicePolicy.CROSS_SIGNED, DevicePolicy.TOFU
SIGNED = {"D1": "ed-key-1"}


@pytest.mark.parametrize(
    ("policy", "confirmed", "device", "key", "expected"),
    [
        (CS, True, "D1", "ed-key-1", DeviceStanding.TRUSTED),
        (CS, True, "D2", "ed-key-2", DeviceStanding.NOT_CROSS_SIGNED),
        # The id was cross-signed with other keys: a re-used device id is not trusted.
        (CS, True, "D1", "other-key", DeviceStanding.NOT_CROSS_SIGNED),
        (CS, False, "D1", "ed-key-1", DeviceStanding.IDENTITY_CHANGED),
        (CS, True, None, None, DeviceStanding.UNKNOWN_DEVICE),
        (TOFU, True, "D2", "ed-key-2", DeviceStanding.TRUSTED),
        (TOFU, False, "D2", "ed-key-2", DeviceStanding.IDENTITY_CHANGED),
        (TOFU, True, None, None, DeviceStanding.UNKNOWN_DEVICE),
        (CS, False, None, None, DeviceStanding.IDENTITY_CHANGED),
    ],
)
def test_standing_of(policy, confirmed, device, key, expected):
    got = standing_of(
        policy, identity_confirmed=confirmed, device=device, device_key=key, signed=SIGNED
    )
    assert got is expected


UNTRUSTED = [
    SenderDevice(DeviceStanding.NOT_CROSS_SIGNED, "D2"),
    SenderDevice(DeviceStanding.IDENTITY_CHANGED, "D1"),
    SenderDevice.unknown(),
]


@pytest.mark.parametrize("device", UNTRUSTED, ids=lambda d: d.standing.value)
async def test_a_state_change_from_an_untrusted_device_is_refused(device):
    core = FakeCore()
    reply = await run_text("approve p-db065bbc", context(core, device=device))
    assert not reply.ok and reply.refused  # refused: the sink audits it
    assert reply.error is not None and reply.error.code == ErrorCode.UNTRUSTED_DEVICE
    assert reply.summary == REFUSALS[device.standing]
    assert "Nothing was changed" in reply.summary
    assert core.calls == []  # no use case ran


@pytest.mark.parametrize("device", UNTRUSTED, ids=lambda d: d.standing.value)
async def test_reading_is_answered_from_any_device(device):
    core = FakeCore()
    reply = await run_text("status", context(core, device=device))
    assert reply.ok and core.names == ["open_requests"]
    assert (await run_text("help", context(core, device=device))).ok


async def test_staff_commands_need_a_trusted_device_too():
    core = FakeCore()
    untrusted = SenderDevice(DeviceStanding.NOT_CROSS_SIGNED, "D2")
    refused = await run_text(
        "identity confirm @a:example.org", context(core, staff=True, device=untrusted)
    )
    assert refused.error is not None and refused.error.code == ErrorCode.UNTRUSTED_DEVICE
    assert (await run_text("queue", context(core, staff=True, device=untrusted))).ok
    assert core.names == ["vetting_queue"]


async def test_who_may_use_a_command_is_checked_before_the_device():
    """A non-member hears the same as from a trusted device: nothing about devices."""
    core = FakeCore()
    reply = await run_text("approve p-db065bbc", context(core, member=False, device=UNTRUSTED[0]))
    assert reply.error is not None and reply.error.code == ErrorCode.NOT_ALLOWED


async def test_the_default_context_counts_nothing():
    from partner_bots.commands import CommandContext

    ctx = CommandContext("@a:x", "!r:x", FakeCore(), is_partner_member=True)
    assert not ctx.device.counts
    assert (await run_text("approve p-db065bbc", ctx)).error.code == ErrorCode.UNTRUSTED_DEVICE


def test_known_devices_announce_only_later_ones(tmp_path: Path):
    known = KnownDevices(tmp_path / "known.json")
    assert known.observe("@a:x", {"D1", "D2"}) == []  # first sight: the baseline
    assert known.observe("@a:x", {"D1", "D2"}) == []
    assert known.observe("@a:x", {"D1", "D3"}) == ["D3"]
    assert known.observe("@a:x", {"D1"}) == []  # a removed device is not news
    again = KnownDevices(tmp_path / "known.json")  # persisted: no repeat after a restart
    assert again.observe("@a:x", {"D1", "D2", "D3"}) == []


def test_confirming_pins_only_the_identity_staff_saw(tmp_path: Path):
    pins = MasterKeyPins(tmp_path / "pins.json")
    pins.observe("@a:x", "K1")
    pins.observe("@a:x", "K2")
    assert not pins.confirm("@a:x", "K3")  # changed again since: not this one
    assert pins.unconfirmed == {"@a:x": "K2"}
    assert pins.confirm("@a:x", "K2") and pins.pins["@a:x"] == "K2"
    assert not pins.confirm("@a:x", "K2")  # nothing left to confirm


class _Sessions:
    def __init__(self, sessions):
        self.sessions = sessions

    def get(self, room_id, sender_key, session_id):
        return self.sessions.get((room_id, sender_key, session_id))


class _Devices:
    def __init__(self, devices):
        self.devices = devices

    def device_from_sender_key(self, user_id, sender_key):
        return self.devices.get((user_id, sender_key))


def _trust(tmp_path: Path, sessions: dict, devices: dict, policy=CS):
    from types import SimpleNamespace

    from partner_bots.device_trust import DeviceTrust

    olm = SimpleNamespace(
        inbound_group_store=_Sessions(sessions),
        device_store=_Devices(devices),
        users_for_key_query=set(),
    )
    session = SimpleNamespace(
        account=SimpleNamespace(store_path=tmp_path),
        client=SimpleNamespace(olm=olm, rooms={}),
        user_id="@bot:x",
    )
    trust = DeviceTrust(session, sender=None, policy=policy)  # type: ignore[arg-type]
    trust.evaluated.add("@a:x")  # evaluated already: no homeserver query
    trust.signed["@a:x"] = {"D1": "ed1"}
    return trust


def _session(ed25519: str, forwarded: bool = False):
    from types import SimpleNamespace

    return SimpleNamespace(ed25519=ed25519, forwarding_chain=["k"] if forwarded else [])


def _device(device_id: str, ed25519: str):
    from types import SimpleNamespace

    return SimpleNamespace(id=device_id, ed25519=ed25519, deleted=False)


async def test_the_device_is_the_one_that_shared_the_session(tmp_path: Path, monkeypatch):
    from partner_bots.events import Origin

    origin = Origin("curve1", "s1")
    devices = {("@a:x", "curve1"): _device("D1", "ed1")}
    trust = _trust(tmp_path, {("!r:x", "curve1", "s1"): _session("ed1")}, devices)
    got = await trust.standing("!r:x", "@a:x", origin)
    assert got == SenderDevice(DeviceStanding.TRUSTED, "D1")
    # Nothing sent encrypted: no device.
    assert (await trust.standing("!r:x", "@a:x", None)).standing is DeviceStanding.UNKNOWN_DEVICE

    async def no_query(users):  # a device we cannot place would ask the homeserver
        return None

    for sessions in (
        {("!r:x", "curve1", "s1"): _session("ed1", forwarded=True)},  # names the forwarder
        {("!r:x", "curve1", "s1"): _session("other")},  # the session's key is not D1's
        {("!r:x", "curve1", "s9"): _session("ed1")},  # no such session here
    ):
        trust = _trust(tmp_path, sessions, devices)
        monkeypatch.setattr(trust, "refresh", no_query)
        trust.session.crypto_lock = _NoLock()
        got = await trust.standing("!r:x", "@a:x", origin)
        assert got.standing is DeviceStanding.UNKNOWN_DEVICE and not got.counts


class _NoLock:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False
