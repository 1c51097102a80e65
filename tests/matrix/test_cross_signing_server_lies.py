"""The bot signs its own device keys, never what the homeserver says they are.

A fake raw API plays a homeserver that lies in its ``/keys/query`` answer; the real-Synapse
behaviour is in test_cross_signing.py. A lie must leave no signature uploaded and stop the
bot with a clear error."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nio.crypto.sessions import OlmAccount

from partner_bots.cross_signing import CrossSigning, CrossSigningError, local_device_keys
from partner_bots.raw_api import RawResponse
from partner_bots.signing import verify_json

USER, DEVICE = "@dsx:hs.example", "DSXBOT"
SIGNATURES = "/_matrix/client/v3/keys/signatures/upload"


@dataclass
class LyingServer:
    """Holds uploaded cross-signing keys honestly; answers device keys through ``lie``."""

    device_keys: dict[str, Any]
    cross: dict[str, Any] = field(default_factory=dict)
    signature_uploads: list[dict[str, Any]] = field(default_factory=list)

    async def keys_query(self, users: dict[str, list[str]]) -> RawResponse:
        body: dict[str, Any] = {"device_keys": {USER: {DEVICE: copy.deepcopy(self.device_keys)}}}
        if self.cross:
            body["master_keys"] = {USER: self.cross["master_key"]}
            body["self_signing_keys"] = {USER: self.cross["self_signing_key"]}
        return RawResponse(200, body)

    async def request(self, method: str, path: str, body: dict[str, Any]) -> RawResponse:
        if path.endswith("/keys/device_signing/upload"):
            self.cross = body
            return RawResponse(200, {})
        if path == SIGNATURES:
            self.signature_uploads.append(body)
            return RawResponse(200, {"failures": {}})
        return RawResponse(404, {"errcode": "M_UNRECOGNIZED"})


def _session(tmp_path: Path, server: LyingServer, olm: Any) -> Any:
    account = SimpleNamespace(
        store_path=tmp_path, pickle_key="test-pickle-key-0123456789", password="pw"
    )
    return SimpleNamespace(
        account=account,
        user_id=USER,
        device_id=DEVICE,
        raw=server,
        client=SimpleNamespace(olm=olm),
    )


@pytest.fixture
def olm() -> Any:
    return SimpleNamespace(user_id=USER, device_id=DEVICE, account=OlmAccount())


def _honest(olm: Any) -> dict[str, Any]:
    keys = local_device_keys(olm)
    # What a server adds: the device's self-signature and the display name.
    keys["signatures"] = {USER: {f"ed25519:{DEVICE}": "c2VsZg"}}
    keys["unsigned"] = {"device_display_name": "DSX coordinator"}
    return keys


def _foreign_keys() -> dict[str, str]:
    other = OlmAccount().identity_keys
    return {f"curve25519:{DEVICE}": other["curve25519"], f"ed25519:{DEVICE}": other["ed25519"]}


async def test_an_honest_answer_gets_our_local_keys_signed(tmp_path, olm):
    server = LyingServer(_honest(olm))
    status = await CrossSigning(_session(tmp_path, server, olm)).ensure()
    (upload,) = server.signature_uploads
    signed = upload[USER][DEVICE]
    assert {k: v for k, v in signed.items() if k != "signatures"} == local_device_keys(olm)
    assert "unsigned" not in signed
    ssk = status.self_signing_key
    assert verify_json(signed, USER, f"ed25519:{ssk}", ssk)


@pytest.mark.parametrize(
    "lie",
    [
        pytest.param(lambda d: d.update(keys=_foreign_keys()), id="the server's own device"),
        pytest.param(
            lambda d: d["keys"].update(
                {f"curve25519:{DEVICE}": _foreign_keys()[f"curve25519:{DEVICE}"]}
            ),
            id="another curve25519 key",
        ),
        pytest.param(lambda d: d["keys"].update({"ed25519:EXTRA": "AAAA"}), id="an extra key"),
        pytest.param(lambda d: d.update(algorithms=["m.olm.v1.weak"]), id="other algorithms"),
        pytest.param(lambda d: d.update(device_id="EVIL"), id="another device id"),
        pytest.param(lambda d: d.update(user_id="@mallory:hs.example"), id="another user"),
        pytest.param(lambda d: d.update(extra_field="signed along"), id="an added field"),
    ],
)
async def test_a_lying_server_gets_no_signature(tmp_path, olm, lie, caplog):
    served = _honest(olm)
    lie(served)
    server = LyingServer(served)
    with caplog.at_level(logging.INFO), pytest.raises(CrossSigningError, match="refusing"):
        await CrossSigning(_session(tmp_path, server, olm)).ensure()
    assert server.signature_uploads == []
    assert "cross_signing.device_keys_mismatch" in caplog.text


async def test_an_olm_account_of_another_device_is_refused(tmp_path):
    olm = SimpleNamespace(user_id=USER, device_id="OTHER", account=OlmAccount())
    server = LyingServer(_honest(olm))
    with pytest.raises(CrossSigningError, match="another user or device"):
        await CrossSigning(_session(tmp_path, server, olm)).ensure()
    assert server.signature_uploads == []


def test_local_keys_are_the_olm_accounts(olm):
    keys = local_device_keys(olm)
    ids = olm.account.identity_keys
    assert keys["keys"] == {
        f"curve25519:{DEVICE}": ids["curve25519"],
        f"ed25519:{DEVICE}": ids["ed25519"],
    }
    assert keys["algorithms"] == ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"]
