"""Signed JSON as Matrix defines it: ed25519 over canonical JSON without ``signatures``
and ``unsigned``, unpadded base64 everywhere."""

from __future__ import annotations

import base64
import copy
from typing import Any

from canonicaljson import encode_canonical_json
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def public_key(key: SigningKey) -> str:
    return b64(bytes(key.verify_key))


def _signable(obj: dict[str, Any]) -> bytes:
    return encode_canonical_json(
        {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    )


def sign_json(obj: dict[str, Any], user_id: str, key: SigningKey) -> dict[str, Any]:
    """A copy of ``obj`` with our signature added under ``ed25519:<public key>``."""
    signed = copy.deepcopy(obj)
    sig = b64(key.sign(_signable(obj)).signature)
    signed.setdefault("signatures", {}).setdefault(user_id, {})[f"ed25519:{public_key(key)}"] = sig
    return signed


def verify_json(obj: dict[str, Any], user_id: str, key_id: str, public: str) -> bool:
    """True iff ``obj`` carries a valid signature by ``public`` under ``user_id``/``key_id``."""
    sig = obj.get("signatures", {}).get(user_id, {}).get(key_id)
    if not isinstance(sig, str):
        return False
    try:
        VerifyKey(unb64(public)).verify(_signable(obj), unb64(sig))
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def single_key(key_object: dict[str, Any]) -> str | None:
    """The one ed25519 public key of a cross-signing key object, if well formed."""
    keys = key_object.get("keys", {})
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    ((key_id, value),) = keys.items()
    if not key_id.startswith("ed25519:") or key_id[len("ed25519:") :] != value:
        return None
    return value
