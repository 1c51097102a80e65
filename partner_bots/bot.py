"""Composition of one bot account: session, cross-signing, sending, rooms and sync.

The coordinator's composition root builds one ``Bot`` per configured account and runs it;
everything it needs from the coordinator comes in through small protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from coordinator.config import Config
from coordinator.logs import get_logger
from partner_bots.cross_signing import CrossSigning, CrossSigningStatus
from partner_bots.device_trust import DevicePolicy, DeviceTrust
from partner_bots.profile import Profile, ensure_profile
from partner_bots.rooms import DepartureCallback, RoomPolicy, RoomRegistry
from partner_bots.sending import Sender
from partner_bots.session import BotAccount, BotSession
from partner_bots.sync import EventSink, InboxPort, SyncLoop, SyncObserver, TroubleCallback
from partner_bots.undecryptable import UndecryptableEvents

log = get_logger(__name__)


class Bot:
    def __init__(
        self,
        account: BotAccount,
        registry: RoomRegistry,
        sink: EventSink,
        *,
        on_trouble: TroubleCallback | None = None,
        on_recovered: Callable[[], Awaitable[None]] | None = None,
        on_departure: DepartureCallback | None = None,
        extra_observers: tuple[SyncObserver, ...] = (),
        first_observers: tuple[SyncObserver, ...] = (),
        undecryptable_grace_seconds: float = 60.0,
        device_policy: DevicePolicy = DevicePolicy.CROSS_SIGNED,
        long_poll_ms: int = 30_000,
        timeline_limit: int = 50,
        inbox: InboxPort | None = None,
        profile: Profile | None = None,
    ):
        self.session = BotSession(account)
        self.sender = Sender(self.session)
        self.trust = DeviceTrust(self.session, self.sender, device_policy)
        self.sender.trust = self.trust
        self.rooms = RoomPolicy(self.session, registry, self.sender, on_departure=on_departure)
        self.undecryptable: UndecryptableEvents | None = None
        self._grace = undecryptable_grace_seconds
        self.sync = SyncLoop(
            self.session,
            sink,
            # First ones see a sync before the room policy (an upgrade before its invite).
            observers=(*first_observers, self.rooms, self.trust, *extra_observers),
            on_trouble=on_trouble,
            on_recovered=on_recovered,
            long_poll_ms=long_poll_ms,
            timeline_limit=timeline_limit,
            inbox=inbox,
        )
        self.cross_signing: CrossSigningStatus | None = None
        self.profile = profile or Profile()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the session, make sure the device is cross-signed, start syncing."""
        await self.session.open()
        # Needs the open session (its store folder holds the held events).
        self.undecryptable = UndecryptableEvents(
            self.session, self.sender, grace_seconds=self._grace
        )
        self.sync.observers = (*self.sync.observers, self.undecryptable)
        self.cross_signing = await CrossSigning(self.session).ensure()
        await ensure_profile(self.session, self.profile, self.session.account.store_path)
        self._task = asyncio.create_task(self.sync.run(), name=f"sync-{self.session.device_id}")

    async def stop(self) -> None:
        """Graceful: let the event in hand finish, then close without logging out."""
        self.sync.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.session.close()
        log.info("bot.stopped")


def bot_from_config(config: Config, registry: RoomRegistry, sink: EventSink, **kw: Any) -> Bot:
    """The bot as ``dsx.toml`` describes it (device policy and grace period included)."""
    return Bot(
        BotAccount.from_config(config),
        registry,
        sink,
        device_policy=DevicePolicy(config.matrix.device_policy),
        undecryptable_grace_seconds=config.matrix.undecryptable_grace_seconds,
        profile=Profile(config.matrix.display_name, config.matrix.avatar_file),
        **kw,
    )
