"""Logical rooms (``engagement:<id>``) that the coordinator names before they exist.

A use case writes a ``create_room`` outbox row for a room it calls ``engagement:E1`` and
then messages for that same name. ``createRoom`` has no transaction id, so idempotency
comes from a room alias derived from the logical name: a second attempt after a crash
finds the alias taken and resolves it instead of creating a second room. The alias also
makes the mapping survive restarts without a table of our own.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from coordinator.logs import get_logger
from partner_bots.session import BotSession

log = get_logger(__name__)

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
_UNSAFE = re.compile(r"[^a-z0-9._=-]")


class RoomCreationError(RuntimeError):
    def __init__(self, code: str, retry_after: float | None):
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


def alias_localpart(logical: str) -> str:
    return "dsx-" + _UNSAFE.sub("-", logical.lower())


class RoomDirectory:
    """Resolves outbox room names to room ids, and creates logical rooms idempotently."""

    def __init__(self, session: BotSession):
        self.session = session
        self._known: dict[str, str] = {}

    def _alias(self, logical: str) -> str:
        server = self.session.user_id.split(":", 1)[1]
        return f"#{alias_localpart(logical)}:{server}"

    async def resolve(self, room: str) -> str | None:
        if room.startswith("!"):
            return room
        if room in self._known:
            return self._known[room]
        alias = quote(self._alias(room), safe="")
        resp = await self.session.raw.request("GET", f"/_matrix/client/v3/directory/room/{alias}")
        if not resp.ok:
            return None
        self._known[room] = resp.body["room_id"]
        return self._known[room]

    async def create(self, logical: str, content: dict[str, Any]) -> str:
        """Create the encrypted room once; on a retry, return the room made the first time."""
        existing = await self.resolve(logical)
        if existing is not None:
            return existing
        initial_state: list[dict[str, Any]] = [ENCRYPTION] if content.get("encrypted", True) else []
        for key, value in content.items():
            if key.startswith("org.dsx.") and isinstance(value, dict):
                initial_state.append({"type": key, "state_key": "", "content": value})
        body = {
            "preset": "private_chat",
            "room_alias_name": alias_localpart(logical),
            "name": str(content.get("name", "")),
            "invite": [u for u in content.get("invite", []) if u != self.session.user_id],
            "initial_state": initial_state,
        }
        resp = await self.session.raw.request("POST", "/_matrix/client/v3/createRoom", body)
        if resp.errcode == "M_ROOM_IN_USE":
            found = await self.resolve(logical)
            if found is not None:
                return found
        if not resp.ok:
            retry = resp.retry_after or (5.0 if resp.status >= 500 or resp.status == 429 else None)
            raise RoomCreationError(resp.errcode or str(resp.status), retry)
        self._known[logical] = resp.body["room_id"]
        log.info("room.created", invited=len(body["invite"]))
        return self._known[logical]
