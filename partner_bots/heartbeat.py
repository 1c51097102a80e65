"""When each bot account last completed a sync, for readiness and metrics.

A sync observer (it sees every round the sync loop completes) that also reads the loop's
own failure count, so ``coordinator.health`` can tell "syncing" from "the homeserver is
away" without knowing anything about Matrix.
"""

from __future__ import annotations

import time
from typing import Any

from nio import MegolmEvent, SyncResponse

from coordinator.health import SyncState


class SyncHeartbeat:
    def __init__(self) -> None:
        self.last_success: float | None = None
        self.loop: Any = None  # the SyncLoop, set once the bot is built

    async def before_dispatch(self, resp: SyncResponse) -> None:
        self.last_success = time.monotonic()

    def may_dispatch(self, room_id: str) -> bool:
        return True

    def hold(self, room_id: str, event: MegolmEvent) -> bool:
        return False

    async def after_dispatch(self, resp: SyncResponse, dispatch: Any) -> None:
        return None

    def state(self) -> SyncState:
        loop = self.loop
        age = None if self.last_success is None else time.monotonic() - self.last_success
        return SyncState(
            syncs=int(getattr(loop, "syncs", 0)),
            failures=int(getattr(loop, "failures", 0)),
            seconds_since_success=age,
        )
