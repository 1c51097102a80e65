"""A bot session keeps its device, its keys and its token across restarts, and never logs out."""

from __future__ import annotations

import pytest

from partner_bots.sealed import SealedFile, SealedFileError
from partner_bots.session import BotSession, KeyCheck
from tests.matrix.conftest import BOT_DEVICE

pytestmark = pytest.mark.synapse


async def _server_ed25519(session: BotSession, user_id: str, device_id: str) -> str | None:
    resp = await session.raw.keys_query({user_id: [device_id]})
    device = resp.body["device_keys"].get(user_id, {}).get(device_id)
    return None if device is None else device["keys"][f"ed25519:{device_id}"]


async def test_restart_keeps_device_keys_and_token(homeserver, bot_factory):
    first = await bot_factory(homeserver)
    assert first.client.device_id == BOT_DEVICE
    assert first.key_check == KeyCheck.FIRST_UPLOAD
    identity = first.client.olm.account.identity_keys["ed25519"]
    token = first.client.access_token
    await first.close()

    # Another user sees the bot's keys on the server after the first session closed.
    observer = await bot_factory(homeserver, name="observer")
    assert await _server_ed25519(observer, first.user_id, BOT_DEVICE) == identity

    second = await bot_factory(homeserver, account=first.account)
    assert second.client.device_id == BOT_DEVICE
    assert second.client.access_token == token  # restored, not a fresh login
    assert second.client.olm.account.identity_keys["ed25519"] == identity
    assert second.key_check == KeyCheck.PRESENT


async def test_keys_deleted_on_the_server_are_uploaded_again(homeserver, bot_factory):
    first = await bot_factory(homeserver)
    identity = first.client.olm.account.identity_keys["ed25519"]
    await first.close()
    # Simulate the classic mistake (a logout elsewhere): delete the device's keys on the
    # server by deleting the device with the admin-less UIA device delete.
    raw = first.raw
    path = f"/_matrix/client/v3/devices/{BOT_DEVICE}"
    resp = await raw.request("DELETE", path, {})
    assert resp.status == 401
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": first.user_id},
        "password": first.account.password,
        "session": resp.body["session"],
    }
    resp = await raw.request("DELETE", path, {"auth": auth})
    assert resp.ok, resp
    await raw.close()

    # The old token died with the device; a restart logs in again with the same device id.
    second = await bot_factory(homeserver, account=first.account)
    assert second.key_check == KeyCheck.REUPLOADED
    assert await _server_ed25519(second, first.user_id, BOT_DEVICE) == identity


def test_sealed_file_refuses_a_wrong_key(tmp_path):
    SealedFile(tmp_path / "x.sealed", "k" * 20, "p").write({"a": 1})
    assert SealedFile(tmp_path / "x.sealed", "k" * 20, "p").read() == {"a": 1}
    assert b'"a"' not in (tmp_path / "x.sealed").read_bytes()
    with pytest.raises(SealedFileError):
        SealedFile(tmp_path / "x.sealed", "j" * 20, "p").read()
