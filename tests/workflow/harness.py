"""A running coordinator (``serve``) on real homeservers, and partner clients that read its
replies: what the workflow tests and ``bench/routing.py`` share."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator import audit_key
from coordinator.config import (
    Config,
    MatrixConfig,
    PartnerConfig,
    PolicyConfig,
    SealingConfig,
    StaffConfig,
)
from coordinator.sealing import write_keypair
from dsx.service import Running, serve
from partner_bots.homeserver.synapse import Homeserver
from tests.harness.clients import TestClient

REPLY = "org.dsx.reply"
PROPOSAL = "org.dsx.proposal"
ENGAGEMENT = "org.dsx.engagement"
PICKLE_KEY = "workflow-test-pickle-key-0123"
TIMELINE_FILTER = {"room": {"timeline": {"limit": 500}}}


class Member(TestClient):
    """A partner member's (or provider's) client that keeps every event it decrypts."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.events: list[tuple[str, dict[str, Any]]] = []

    @classmethod
    async def create(
        cls, hs: Homeserver, store_root: Path, name: str = "user", *, cross_signed: bool = True
    ) -> Member:
        """A member as the bot's default device policy expects: their device cross-signed."""
        member = await super().create(hs, store_root, name)
        assert isinstance(member, Member)
        if cross_signed:
            await member.cross_sign()
        return member

    def _record(self, room_id: str, event: Any) -> None:
        super()._record(room_id, event)
        source = getattr(event, "source", None)
        if isinstance(source, dict) and type(event).__name__ != "MegolmEvent":
            self.events.append((room_id, source))

    async def _sync_request(self, timeout_ms: int) -> Any:
        """A long timeline: the bot answers bursts faster than a ten-event window
        (Synapse's default) would show without gaps."""
        return await self.client.sync(
            timeout=timeout_ms,
            full_state=not self.client.next_batch,
            sync_filter=TIMELINE_FILTER,
        )

    def from_user(self, room_id: str, sender: str) -> list[dict[str, Any]]:
        return [s for r, s in self.events if r == room_id and s.get("sender") == sender]

    async def wait_event(
        self,
        room_id: str,
        sender: str,
        match: Callable[[dict[str, Any]], bool],
        timeout: float = 60.0,
        what: str = "event",
    ) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [s for s in self.from_user(room_id, sender) if match(s)]
            return bool(found)

        await self.sync_until(seen, timeout, what)
        return found[0]

    async def read_history(self, room_id: str, limit: int = 50) -> None:
        """Page back through ``/messages`` as a client does after joining over federation
        (the joining server gets the room's state, not its earlier timeline)."""
        resp = await self.client.room_messages(room_id, limit=limit)
        chunk = getattr(resp, "chunk", None)
        if chunk is None:
            raise RuntimeError(f"/messages failed: {resp}")
        seen = {s.get("event_id") for r, s in self.events if r == room_id}
        for event in reversed(chunk):
            if getattr(event, "event_id", None) in seen:
                continue
            if type(event).__name__ == "MegolmEvent":
                try:
                    event = self.client.decrypt_event(event)
                except Exception:
                    self.undecrypted.append((room_id, event))
                    continue
            self._record(room_id, event)

    async def command(self, room_id: str, body: str) -> str:
        return await self.send_text(room_id, body)

    async def reply_to(
        self, room_id: str, bot: str, event_id: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The bot's reply content to ``event_id`` (by its ``m.in_reply_to``)."""

        def is_reply(s: dict[str, Any]) -> bool:
            content = s.get("content", {})
            rel = content.get("m.relates_to") or {}
            return REPLY in content and (rel.get("m.in_reply_to") or {}).get("event_id") == event_id

        event = await self.wait_event(room_id, bot, is_reply, timeout, f"reply to {event_id}")
        return event["content"]

    async def ask(self, room_id: str, bot: str, body: str, timeout: float = 60.0) -> dict:
        """Send a command and return the bot's reply content."""
        return await self.reply_to(room_id, bot, await self.command(room_id, body), timeout)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """An encrypted reaction, as Element sends it (nio alone sends reactions in the
        clear, which the bot never counts as a vote)."""
        resp = await self.send_encrypted(
            room_id,
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
        )
        sent = getattr(resp, "event_id", None)
        if sent is None:
            raise RuntimeError(f"reaction failed: {resp}")
        return sent

    async def redact(self, room_id: str, event_id: str) -> str:
        resp = await self.client.room_redact(room_id, event_id)
        sent = getattr(resp, "event_id", None)
        if sent is None:
            raise RuntimeError(f"redaction failed: {resp}")
        return sent


def proposal_of(event: dict[str, Any]) -> dict[str, Any] | None:
    return event.get("content", {}).get(PROPOSAL)


@dataclass
class Coordinator:
    """``serve`` running in a task, with what it started."""

    config: Config
    running: Running
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def bot(self) -> str:
        return self.config.matrix.user_id

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 60)


@dataclass(frozen=True)
class PartnerSpec:
    handle: str
    room: str
    members: tuple[str, ...]
    account: str = ""  # the bot account serving the partner; empty: the primary


def make_config(
    hs: Homeserver,
    bot_user: str,
    bot_password: str,
    data: Path,
    partners: list[PartnerSpec],
    staff_room: str = "",
    staff_members: tuple[str, ...] = (),
    database_url: str = "",
    # The bot role holds the private key (opens intake details and organizations' names).
    private_key: bool = True,
    accounts: tuple[MatrixConfig, ...] = (),
) -> Config:
    public, _private = write_keypair(data / "keys")
    audit_key.create(data / "keys" / audit_key.KEY_FILE)
    from coordinator.config import DatabaseConfig

    return Config(
        data_dir=str(data),
        matrix=MatrixConfig(
            homeserver_url=hs.base_url,
            user_id=bot_user,
            password=bot_password,
            device_id="DSXWORKFLOW",
            store_path=str(data / "nio-store"),
            pickle_key=PICKLE_KEY,
            undecryptable_grace_seconds=30,
        ),
        database=DatabaseConfig(url=database_url),
        staff=StaffConfig(room=staff_room, members=staff_members),
        partners=tuple(
            PartnerConfig(p.handle, (p.room,), p.members, account=p.account) for p in partners
        ),
        policy=PolicyConfig(),
        sealing=SealingConfig(
            public_key_file=str(public), private_key_file=str(_private) if private_key else ""
        ),
        matrix_accounts=accounts,
    )


async def start_coordinator(config: Config, timeout: float = 90.0) -> Coordinator:
    stop, ready = asyncio.Event(), asyncio.Event()
    box: list[Running] = []
    task = asyncio.create_task(
        serve(config, stop=stop, ready=ready, web=False, on_ready=box.append), name="serve"
    )
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when="FIRST_COMPLETED")
    if task in done:
        waiter.cancel()
        task.result()  # raises what went wrong
    if waiter not in done:
        waiter.cancel()
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
        raise TimeoutError("the coordinator did not become ready")
    return Coordinator(config, box[0], stop, task)


async def join_bot(owner: Member, room_id: str, bot: str, timeout: float = 90.0) -> None:
    """Invite the bot into ``room_id`` and wait until it has joined."""
    await owner.client.room_invite(room_id, bot)

    def joined() -> bool:
        room = owner.client.rooms.get(room_id)
        return room is not None and bot in room.users and bot not in room.invited_users

    await owner.sync_until(joined, timeout, f"{bot} to join")
    await knows_devices(owner, bot, timeout)


async def knows_devices(member: Member, user_id: str, timeout: float = 60.0) -> None:
    """Until ``member`` has queried ``user_id``'s devices: a message sent before that is
    encrypted with a session never shared to them (nio rotates it once it finds them)."""

    def known() -> bool:
        return bool(list(member.client.device_store.active_user_devices(user_id)))

    await member.sync_until(known, timeout, f"the devices of {user_id}")


async def new_member(hs: Homeserver, root: Path, name: str) -> Member:
    return await Member.create(hs, root, name)


def tag() -> str:
    return uuid.uuid4().hex[:6]


@dataclass
class Closer:
    members: list[Member] = field(default_factory=list)

    async def close(self) -> None:
        for m in self.members:
            await m.close()
