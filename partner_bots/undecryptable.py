"""Undecryptable events are held, retried when their room key arrives, and never dropped
silently: after a grace period the bot asks the sender, in the room, to send again.

Room keys often arrive after the message they unlock (a bot that answers
"cannot decrypt" at once is wrong most of the time). Held events are ciphertext,
so keeping them in a file next to the store costs no confidentiality and survives a
restart, whose replay would otherwise skip them (the sync token has moved on).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from nio import (
    EncryptionError,
    Event,
    ForwardedRoomKeyEvent,
    MegolmEvent,
    RoomKeyEvent,
    SyncResponse,
    UnknownToDeviceEvent,
)

from coordinator.logs import get_logger
from partner_bots.render.notice import notice
from partner_bots.sending import Sender, SendError
from partner_bots.session import BotSession

log = get_logger(__name__)

Dispatch = Callable[[str, Event], Awaitable[None]]


@dataclass
class Held:
    room_id: str
    event: MegolmEvent
    held_at: float
    asked: bool = False
    withheld: str | None = None  # the sender's client refused the key, with this code


WITHHELD = "m.room_key.withheld"


def resend_request(sender: str, withheld_code: str | None = None) -> dict[str, object]:
    if withheld_code == "m.unverified":
        why = (
            "your client did not share the key with me because it does not consider my "
            "device verified. My device is cross-signed by my account; please verify my "
            "identity (or allow unverified devices) and send the message again."
        )
    elif withheld_code is not None:
        why = f"your client withheld the key ({withheld_code}). Please send it again."
    else:
        why = (
            "if it was meant for me, please send it again (and make sure your session "
            "shares keys with cross-signed devices)."
        )
    body = f"{sender}: I could not decrypt one of your messages: {why}"
    return notice(
        body,
        mention=[sender],
        extra={
            "org.dsx.reply": {
                "command": None,
                "ok": False,
                "error": {"code": "undecryptable", "message": "please send again"},
            }
        },
    )


class UndecryptableEvents:
    """A sync observer holding ``MegolmEvent``s until they decrypt or the sender is asked."""

    def __init__(
        self,
        session: BotSession,
        sender: Sender,
        *,
        grace_seconds: float = 60.0,
        max_held: int = 1000,
        clock: Callable[[], float] = time.time,
    ):
        self.session = session
        self.sender = sender
        self.grace_seconds = grace_seconds
        self.max_held = max_held
        self.clock = clock
        self.held: dict[str, Held] = {}
        self._path: Path = session.account.store_path / "held_events.json"
        self._load()

    # -- persistence ---------------------------------------------------------------------

    def _load(self) -> None:
        try:
            rows = json.loads(self._path.read_text())
        except FileNotFoundError:
            return
        for row in rows:
            event = Event.parse_event(row["source"])
            if isinstance(event, MegolmEvent):
                self.held[event.event_id] = Held(
                    row["room_id"], event, row["held_at"], row["asked"], row.get("withheld")
                )

    def _save(self) -> None:
        rows = [
            {
                "room_id": h.room_id,
                "source": h.event.source,
                "held_at": h.held_at,
                "asked": h.asked,
                "withheld": h.withheld,
            }
            for h in self.held.values()
        ]
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(rows, f)
        os.replace(tmp, self._path)

    # -- SyncObserver --------------------------------------------------------------------

    async def before_dispatch(self, resp: SyncResponse) -> None:
        return None

    def may_dispatch(self, room_id: str) -> bool:
        return True

    def hold(self, room_id: str, event: MegolmEvent) -> bool:
        if event.sender == self.session.user_id or event.event_id in self.held:
            return True
        if len(self.held) >= self.max_held:
            oldest = min(self.held.values(), key=lambda h: h.held_at)
            del self.held[oldest.event.event_id]
            log.warning("undecryptable.evicted", room=oldest.room_id)
        self.held[event.event_id] = Held(room_id, event, self.clock())
        self._save()
        log.info("undecryptable.held", room=room_id, session=event.session_id)
        return True

    async def after_dispatch(self, resp: SyncResponse, dispatch: Dispatch) -> None:
        if not self.held:
            return
        arrived = {
            e.session_id
            for e in resp.to_device_events
            if isinstance(e, RoomKeyEvent | ForwardedRoomKeyEvent)
        }
        changed = await self.retry(dispatch, arrived or None)
        changed |= self._note_withheld(resp)
        changed |= await self._ask_overdue()
        if changed:
            self._save()

    async def retry(self, dispatch: Dispatch, sessions: set[str] | None = None) -> bool:
        """Try to decrypt held events (of ``sessions``, or all); dispatch the ones that open."""
        client = self.session.client
        changed = False
        for event_id, h in list(self.held.items()):
            if sessions is not None and h.event.session_id not in sessions:
                continue
            try:
                decrypted = client.decrypt_event(h.event)
            except EncryptionError:  # the key is still missing
                continue
            if isinstance(decrypted, MegolmEvent):
                continue
            # Handed on first, forgotten after: a failing handler keeps it held for retry.
            await dispatch(h.room_id, decrypted)
            del self.held[event_id]
            changed = True
            log.info(
                "undecryptable.decrypted",
                room=h.room_id,
                waited_s=round(self.clock() - h.held_at, 1),
            )
        return changed

    def _note_withheld(self, resp: SyncResponse) -> bool:
        """MSC4153 clients refuse keys with ``m.room_key.withheld``: no point waiting."""
        codes: dict[str, str] = {}
        for e in resp.to_device_events:
            if isinstance(e, UnknownToDeviceEvent) and e.type == WITHHELD:
                content = e.source.get("content", {})
                if isinstance(content.get("session_id"), str):
                    codes[content["session_id"]] = str(content.get("code", "unknown"))
        changed = False
        for h in self.held.values():
            code = codes.get(h.event.session_id)
            if code is not None and h.withheld is None:
                h.withheld = code
                changed = True
                log.info("undecryptable.withheld", room=h.room_id, code=code)
        return changed

    async def _ask_overdue(self) -> bool:
        now = self.clock()
        changed = False
        for event_id, h in self.held.items():
            overdue = now - h.held_at >= self.grace_seconds or h.withheld is not None
            if h.asked or not overdue:
                continue
            try:
                # The tx id makes the request idempotent across restarts and retries.
                await self.sender.send(
                    h.room_id,
                    "m.room.message",
                    resend_request(h.event.sender, h.withheld),
                    tx_id=f"dsx-resend-{event_id}",
                )
            except SendError as exc:
                log.warning("undecryptable.ask_failed", room=h.room_id, code=exc.code)
                continue
            h.asked = True
            changed = True
            log.info("undecryptable.asked_resend", room=h.room_id)
        return changed
