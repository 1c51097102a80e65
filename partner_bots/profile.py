"""The bot looks like itself: its display name and avatar come from the configuration.

Set at every start, and only what differs: a partner's client shows "DSX coordinator"
with the network's picture, not a bare Matrix id. The avatar is uploaded once; the
store folder remembers which file (by digest) became which ``mxc://`` URI, so a restart
uploads nothing. Failures are logged and never stop the bot: this is how it looks, not
what it does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from nio import ProfileGetResponse, UploadResponse

from coordinator.logs import get_logger
from partner_bots.session import BotSession

log = get_logger(__name__)
CACHE = "avatar.json"
MAX_AVATAR = 1024 * 1024


@dataclass(frozen=True)
class Profile:
    display_name: str = ""
    avatar_file: str = ""


async def ensure_profile(session: BotSession, profile: Profile, store: Path) -> list[str]:
    """Bring the account's profile to ``profile``; returns what was changed."""
    changed: list[str] = []
    client = session.client
    try:
        current = await client.get_profile(client.user_id)
        name = current.displayname if isinstance(current, ProfileGetResponse) else None
        avatar = current.avatar_url if isinstance(current, ProfileGetResponse) else None
        if profile.display_name and name != profile.display_name:
            await client.set_displayname(profile.display_name)
            changed.append("display_name")
        if profile.avatar_file:
            uri = await _avatar_uri(session, Path(profile.avatar_file), store)
            if uri and uri != avatar:
                await client.set_avatar(uri)
                changed.append("avatar")
    except Exception as exc:  # cosmetic: never a reason not to serve partners
        log.warning("profile.not_set", error=type(exc).__name__)
        return changed
    if changed:
        log.info("profile.set", changed=changed)
    return changed


async def _avatar_uri(session: BotSession, path: Path, store: Path) -> str | None:
    data = await asyncio.to_thread(path.read_bytes)
    if len(data) > MAX_AVATAR:
        log.warning("profile.avatar_too_large", bytes=len(data))
        return None
    digest = hashlib.sha256(data).hexdigest()
    cache = store / CACHE
    known = await asyncio.to_thread(_read_cache, cache)
    if known.get("sha256") == digest and known.get("uri"):
        return str(known["uri"])
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    resp, _keys = await session.client.upload(
        lambda *_: data, content_type=mime, filename=path.name, filesize=len(data)
    )
    if not isinstance(resp, UploadResponse):
        log.warning("profile.avatar_upload_failed")
        return None
    await asyncio.to_thread(_write_cache, cache, {"sha256": digest, "uri": resp.content_uri})
    return resp.content_uri


def _read_cache(path: Path) -> dict[str, object]:
    try:
        found = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_cache(path: Path, value: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value), "utf-8")
    tmp.replace(path)
