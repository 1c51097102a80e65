"""The bot appears under its configured name and picture (partner_bots/profile.py), on a
real Synapse: set at start, only what differs, and the picture uploaded once."""

from __future__ import annotations

import asyncio
import struct
import zlib

import aiohttp
import pytest

from partner_bots.profile import Profile, ensure_profile
from tests.matrix.conftest import new_account

pytestmark = pytest.mark.synapse
NAME = "DSX Coordinación · équipe"


def tiny_png(rgb: tuple[int, int, int]) -> bytes:
    """A valid 1x1 PNG, made here (nothing fetched)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00" + bytes(rgb)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def _profile(hs, user_id: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{hs.base_url}/_matrix/client/v3/profile/{user_id}") as resp:
            return await resp.json()


async def test_name_and_avatar_are_set_once_and_kept(homeserver, bot_factory, tmp_path):
    account = await new_account(homeserver, tmp_path / "store", "profile")
    session = await bot_factory(homeserver, account)
    picture = tmp_path / "dsx.png"
    await asyncio.to_thread(picture.write_bytes, tiny_png((200, 30, 30)))
    profile = Profile(NAME, str(picture))

    assert await ensure_profile(session, profile, account.store_path) == [
        "display_name",
        "avatar",
    ]
    seen = await _profile(homeserver, account.user_id)
    assert seen["displayname"] == NAME and seen["avatar_url"].startswith("mxc://")

    # A restart with the same configuration changes and uploads nothing.
    assert await ensure_profile(session, profile, account.store_path) == []
    assert (await _profile(homeserver, account.user_id))["avatar_url"] == seen["avatar_url"]

    # A new picture is uploaded and replaces the old one.
    await asyncio.to_thread(picture.write_bytes, tiny_png((30, 30, 200)))
    assert await ensure_profile(session, profile, account.store_path) == ["avatar"]
    assert (await _profile(homeserver, account.user_id))["avatar_url"] != seen["avatar_url"]


async def test_a_missing_picture_never_stops_the_bot(homeserver, bot_factory, tmp_path):
    account = await new_account(homeserver, tmp_path / "store", "profile")
    session = await bot_factory(homeserver, account)
    missing = Profile("DSX", str(tmp_path / "nope.png"))
    assert await ensure_profile(session, missing, account.store_path) == ["display_name"]
