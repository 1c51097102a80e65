"""Bootstrap the bot's own cross-signing identity and sign its device with it.

Current Element (MSC4153) gives no room keys to a device its owner has not cross-signed and
nio 0.26 cannot cross-sign, so we do it ourselves: three ed25519 keys (master, self-signing,
user-signing) kept sealed with the pickle key and reused on every start, so clients never
see the bot's identity change.

The device signature covers only the device keys held in our own olm account, never the
copy ``/keys/query`` returns: a homeserver that answered with keys of its own choosing
would otherwise get its device signed as the bot's. If the server's copy differs from
ours, nothing is signed and the bot refuses to start.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey
from nio.crypto import Olm

from coordinator.logs import get_logger
from partner_bots.raw_api import RawResponse
from partner_bots.sealed import SealedFile
from partner_bots.session import BotSession, SessionError
from partner_bots.signing import b64, public_key, sign_json, single_key, unb64, verify_json

log = get_logger(__name__)


class CrossSigningError(SessionError):
    pass


def local_device_keys(olm: Olm) -> dict[str, Any]:
    """Our device keys as nio uploads them (``Olm.share_keys``), from the local account."""
    ids = olm.account.identity_keys
    return {
        "algorithms": list(Olm._algorithms),
        "device_id": olm.device_id,
        "user_id": olm.user_id,
        "keys": {
            f"curve25519:{olm.device_id}": ids["curve25519"],
            f"ed25519:{olm.device_id}": ids["ed25519"],
        },
    }


def _signable(device_keys: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in device_keys.items() if k not in ("signatures", "unsigned")}


class Outcome(enum.Enum):
    UNCHANGED = "unchanged"
    UPLOADED = "uploaded"


@dataclass(frozen=True)
class CrossSigningKeys:
    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())

    def to_document(self) -> dict[str, str]:
        return {
            "master": b64(bytes(self.master)),
            "self_signing": b64(bytes(self.self_signing)),
            "user_signing": b64(bytes(self.user_signing)),
        }

    @classmethod
    def from_document(cls, doc: dict[str, str]) -> CrossSigningKeys:
        return cls(*(SigningKey(unb64(doc[k])) for k in ("master", "self_signing", "user_signing")))

    def key_objects(self, user_id: str) -> dict[str, dict[str, Any]]:
        """The three key objects for ``/keys/device_signing/upload``, sub-keys master-signed."""

        def obj(key: SigningKey, usage: str) -> dict[str, Any]:
            pub = public_key(key)
            return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{pub}": pub}}

        return {
            "master_key": obj(self.master, "master"),
            "self_signing_key": sign_json(
                obj(self.self_signing, "self_signing"), user_id, self.master
            ),
            "user_signing_key": sign_json(
                obj(self.user_signing, "user_signing"), user_id, self.master
            ),
        }


@dataclass(frozen=True)
class CrossSigningStatus:
    master_key: str
    self_signing_key: str
    keys: Outcome
    device_signature: Outcome


class CrossSigning:
    """Makes the server hold our cross-signing keys and our device's signature, idempotently."""

    def __init__(self, session: BotSession):
        self.session = session
        acc = session.account
        self._file = SealedFile(
            acc.store_path / "cross_signing.sealed", acc.pickle_key, "cross-signing"
        )

    def load_or_create(self) -> CrossSigningKeys:
        doc = self._file.read()
        if doc is not None:
            return CrossSigningKeys.from_document(doc)
        keys = CrossSigningKeys.generate()
        # Saved before upload: a crash in between must not leave the server with keys we lost.
        self._file.write(keys.to_document())
        log.info("cross_signing.generated")
        return keys

    async def ensure(self) -> CrossSigningStatus:
        keys = self.load_or_create()
        user, device = self.session.user_id, self.session.device_id
        master_pub, ssk_pub = public_key(keys.master), public_key(keys.self_signing)

        published = await self._query()
        server_master = single_key(published.body.get("master_keys", {}).get(user, {}))
        server_ssk = single_key(published.body.get("self_signing_keys", {}).get(user, {}))
        keys_outcome = Outcome.UNCHANGED
        if (server_master, server_ssk) != (master_pub, ssk_pub):
            if server_master is not None:
                log.warning("cross_signing.replacing_server_keys")
            await self._upload_keys(keys)
            keys_outcome = Outcome.UPLOADED
            published = await self._query()

        server_copy = published.body.get("device_keys", {}).get(user, {}).get(device)
        if not isinstance(server_copy, dict):
            raise CrossSigningError("our device has no keys on the server")
        ours = self._local_device_keys()
        if _signable(server_copy) != ours:
            log.error("cross_signing.device_keys_mismatch")
            raise CrossSigningError(
                "the server's copy of this device's keys differs from the bot's own: "
                "refusing to cross-sign it (check the homeserver, or restore the right store)"
            )
        sig_outcome = Outcome.UNCHANGED
        if not verify_json(server_copy, user, f"ed25519:{ssk_pub}", ssk_pub):
            await self._upload_device_signature(ours, keys.self_signing)
            sig_outcome = Outcome.UPLOADED
        log.info("cross_signing.ready", keys=keys_outcome.value, device=sig_outcome.value)
        return CrossSigningStatus(master_pub, ssk_pub, keys_outcome, sig_outcome)

    def _local_device_keys(self) -> dict[str, Any]:
        olm = self.session.client.olm
        if olm is None:
            raise CrossSigningError("the bot's olm account is not loaded")
        if (olm.user_id, olm.device_id) != (self.session.user_id, self.session.device_id):
            raise CrossSigningError("the olm account belongs to another user or device")
        return local_device_keys(olm)

    async def _query(self) -> RawResponse:
        resp = await self.session.raw.keys_query({self.session.user_id: []})
        if not resp.ok:
            raise CrossSigningError(f"key query failed: {resp.status} {resp.errcode}")
        return resp

    async def _upload_keys(self, keys: CrossSigningKeys) -> None:
        """Upload; Synapse wants no auth the first time and m.login.password afterwards."""
        path = "/_matrix/client/v3/keys/device_signing/upload"
        body = keys.key_objects(self.session.user_id)
        resp = await self.session.raw.request("POST", path, body)
        if resp.status == 401 and "flows" in resp.body:
            flows = [f.get("stages", []) for f in resp.body.get("flows", [])]
            if ["m.login.password"] not in flows:
                raise CrossSigningError(f"unsupported auth flows for key upload: {flows}")
            password = self.session.account.password
            if not password:
                raise CrossSigningError("the server wants the bot's password to replace its keys")
            body["auth"] = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": self.session.user_id},
                "password": password,
                "session": resp.body.get("session"),
            }
            resp = await self.session.raw.request("POST", path, body)
        if not resp.ok:
            raise CrossSigningError(
                f"cross-signing key upload failed: {resp.status} {resp.errcode}"
            )

    async def _upload_device_signature(self, ours: dict[str, Any], ssk: SigningKey) -> None:
        """Sign our local device keys (never the server's copy) with the self-signing key."""
        user, device = self.session.user_id, self.session.device_id
        signed = sign_json(ours, user, ssk)
        resp = await self.session.raw.request(
            "POST", "/_matrix/client/v3/keys/signatures/upload", {user: {device: signed}}
        )
        failures = resp.body.get("failures") or {}
        if not resp.ok or failures:
            raise CrossSigningError(f"device signature upload failed: {resp.status} {failures}")
