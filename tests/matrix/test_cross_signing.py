"""The bot's device is cross-signed, as another client sees it through /keys/query."""

from __future__ import annotations

import pytest
from canonicaljson import encode_canonical_json
from nacl.signing import VerifyKey

from partner_bots.cross_signing import CrossSigning, Outcome
from partner_bots.signing import unb64
from tests.matrix.conftest import BOT_DEVICE

pytestmark = pytest.mark.synapse


def _verify(obj: dict, user_id: str, signer: str) -> None:
    """Independent ed25519 check (not through partner_bots.signing's verifier)."""
    sig = obj["signatures"][user_id][f"ed25519:{signer}"]
    payload = encode_canonical_json(
        {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    )
    VerifyKey(unb64(signer)).verify(payload, unb64(sig))  # raises if invalid


def _only_key(obj: dict) -> str:
    (value,) = obj["keys"].values()
    return value


async def test_bootstrap_is_visible_to_others_and_idempotent(homeserver, bot_factory):
    bot = await bot_factory(homeserver)
    first = await CrossSigning(bot).ensure()
    assert first.keys is Outcome.UPLOADED and first.device_signature is Outcome.UPLOADED

    other = await bot_factory(homeserver, name="other")
    resp = await other.raw.keys_query({bot.user_id: []})
    body = resp.body
    master = body["master_keys"][bot.user_id]
    ssk = body["self_signing_keys"][bot.user_id]
    device = body["device_keys"][bot.user_id][BOT_DEVICE]
    assert master["usage"] == ["master"] and ssk["usage"] == ["self_signing"]
    assert _only_key(master) == first.master_key
    _verify(ssk, bot.user_id, _only_key(master))
    _verify(device, bot.user_id, _only_key(ssk))

    # Restart on the same store: same identity, nothing re-uploaded.
    await bot.close()
    again = await bot_factory(homeserver, account=bot.account)
    second = await CrossSigning(again).ensure()
    assert second.master_key == first.master_key
    assert second.keys is Outcome.UNCHANGED and second.device_signature is Outcome.UNCHANGED


async def test_replacing_keys_uses_password_auth(homeserver, bot_factory, tmp_path):
    bot = await bot_factory(homeserver)
    first = await CrossSigning(bot).ensure()
    # Lose the sealed keys: the next bootstrap must replace the published ones, which
    # Synapse only allows with user-interactive auth.
    (bot.account.store_path / "cross_signing.sealed").unlink()
    second = await CrossSigning(bot).ensure()
    assert second.keys is Outcome.UPLOADED
    assert second.master_key != first.master_key
    resp = await bot.raw.keys_query({bot.user_id: []})
    assert _only_key(resp.body["master_keys"][bot.user_id]) == second.master_key
    device = resp.body["device_keys"][bot.user_id][BOT_DEVICE]
    _verify(device, bot.user_id, second.self_signing_key)
