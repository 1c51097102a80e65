"""The supervised sync loop: exactly-once friendly, gap-free, and hard to kill.

* nio saves its sync token *before* callbacks run, so a crash loses events. We keep token
  persistence to ourselves and save it only after every event of the batch was handed
  over; a crash replays the batch and the inbox (handled event ids) drops the repeats.
* A limited (gapped) timeline is back-filled through ``/messages`` down to the previous
  token. A fresh store skips history, and events from before our own join are skipped.
* ``SyncError`` is returned, not raised, by nio: each failure waits with jittered
  exponential backoff, honouring ``Retry-After``; persistent trouble is reported once.
* Key upload/query/claim run under the session's crypto lock, never concurrently with a
  send (nio's ``No key query required`` crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from nio import (
    Event,
    MegolmEvent,
    MessageDirection,
    RoomMemberEvent,
    RoomMessagesResponse,
    SyncResponse,
)

from coordinator.logs import get_logger
from coordinator.store.errors import database_unreachable
from partner_bots.backoff import Backoff
from partner_bots.client import retry_after_of
from partner_bots.events import Incoming, to_incoming
from partner_bots.session import BotSession

log = get_logger(__name__)


class EventSink(Protocol):
    async def __call__(self, event: Incoming) -> None: ...


class InboxPort(Protocol):
    """``coordinator.store.Inbox``: event ids whose effect is already committed."""

    async def already_handled(self, event_id: str) -> bool: ...


class SyncObserver(Protocol):
    """Collaborators that see each sync (room policy, undecryptable events)."""

    async def before_dispatch(self, resp: SyncResponse) -> None: ...

    def may_dispatch(self, room_id: str) -> bool: ...

    def hold(self, room_id: str, event: MegolmEvent) -> bool: ...

    async def after_dispatch(self, resp: SyncResponse, dispatch: Dispatch) -> None: ...


@dataclass(frozen=True)
class Trouble:
    failures: int
    since: float
    last_error: str


TroubleCallback = Callable[[Trouble], Awaitable[None]]
Dispatch = Callable[[str, Event], Awaitable[None]]


class SyncFailed(RuntimeError):
    def __init__(self, code: str, retry_after: float | None = None):
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


class SyncLoop:
    def __init__(
        self,
        session: BotSession,
        sink: EventSink,
        *,
        observers: tuple[SyncObserver, ...] = (),
        on_trouble: TroubleCallback | None = None,
        on_recovered: Callable[[], Awaitable[None]] | None = None,
        backoff: Backoff | None = None,
        long_poll_ms: int = 30_000,
        timeline_limit: int = 50,
        trouble_after: int = 5,
        max_backfill_pages: int = 20,
        inbox: InboxPort | None = None,
    ):
        self.session = session
        self.sink = sink
        self.observers = observers
        self.on_trouble = on_trouble
        self.on_recovered = on_recovered
        self.backoff = backoff or Backoff()
        self.long_poll_ms = long_poll_ms
        self.filter = {"room": {"timeline": {"limit": timeline_limit}}}
        self.trouble_after = trouble_after
        self.max_backfill_pages = max_backfill_pages
        self.max_handler_attempts = 3
        self.inbox = inbox
        self._handler_failures: dict[str, int] = {}
        self.failures = 0
        self.syncs = 0
        self.backfilled = 0  # events recovered through /messages (a gauge for operators)
        self.crashes = 0  # unexpected exceptions survived (a gauge for operators)
        self.synced = asyncio.Event()
        self._first_failure: float | None = None
        self._reported = False
        self._stopping = False
        self._request: asyncio.Future[Any] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Sync until ``stop()``; no exception ends the loop, each one backs off."""
        log.info("sync.started")
        while not self._stopping:
            try:
                await self.sync_once()
            except SyncFailed as exc:
                await self._failed(exc.code, exc.retry_after)
            except asyncio.CancelledError:
                if self._stopping:
                    break
                raise
            except Exception as exc:  # the loop must survive anything and say so
                self.crashes += 1
                log.warning("sync.crashed", error=type(exc).__name__)
                await self._failed(type(exc).__name__, None)
        log.info("sync.stopped")

    def stop(self) -> None:
        """Graceful: a long-poll in flight is abandoned; an event being handled finishes."""
        self._stopping = True
        if self._request is not None and not self._request.done():
            self._request.cancel()

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def _failed(self, code: str, retry_after: float | None) -> None:
        self.failures += 1
        now = time.monotonic()
        if self._first_failure is None:
            self._first_failure = now
        wait = self.backoff.delay(self.failures, retry_after)
        log.warning("sync.failed", code=code, failures=self.failures, wait_s=round(wait, 2))
        if self.failures >= self.trouble_after and not self._reported and self.on_trouble:
            self._reported = True
            with contextlib.suppress(Exception):
                await self.on_trouble(Trouble(self.failures, self._first_failure, code))
        if not self._stopping:
            with contextlib.suppress(asyncio.CancelledError):
                self._request = asyncio.ensure_future(asyncio.sleep(wait))
                await self._request

    async def _succeeded(self) -> None:
        if self._reported and self.on_recovered:
            with contextlib.suppress(Exception):
                await self.on_recovered()
        self.failures, self._first_failure, self._reported = 0, None, False

    # -- one round -----------------------------------------------------------------------

    async def sync_once(self) -> bool:
        """One sync round; returns False if stopped while waiting on the server."""
        client = self.session.client
        since = client.next_batch or client.loaded_sync_token or None
        fresh = since is None
        self._request = asyncio.ensure_future(
            client.sync(
                timeout=0 if fresh else self.long_poll_ms,
                sync_filter=self.filter,
                since=since,
                full_state=fresh or self.syncs == 0,
            )
        )
        try:
            resp = await self._request
        except asyncio.CancelledError:
            if self._stopping:
                return False
            raise
        finally:
            self._request = None
        if not isinstance(resp, SyncResponse):
            raise SyncFailed(str(getattr(resp, "status_code", None) or resp), retry_after_of(resp))
        try:
            await self._process(resp, since)
        except BaseException:
            # Not all of this batch was handed over: sync it again from the old token.
            client.next_batch = since or ""
            raise
        assert client.store is not None
        client.store.save_sync_token(resp.next_batch)
        self.syncs += 1
        self.synced.set()
        await self._succeeded()
        return True

    async def _process(self, resp: SyncResponse, since: str | None) -> None:
        for obs in self.observers:
            await obs.before_dispatch(resp)
        own = self.session.user_id
        for room_id, info in resp.rooms.join.items():
            events: list[Event] = list(info.timeline.events)
            if since is None:
                continue  # a fresh store: everything so far is history
            if info.timeline.limited and info.timeline.prev_batch:
                events = await self._backfill(room_id, info.timeline.prev_batch, since) + events
            events = _after_own_join(events, own)
            for event in events:
                await self._dispatch(room_id, event, own)
        for obs in self.observers:
            await obs.after_dispatch(resp, self._dispatch_late)
        await self._key_maintenance()

    async def _dispatch(self, room_id: str, event: Event, own: str) -> None:
        if isinstance(event, MegolmEvent):
            for obs in self.observers:
                if obs.hold(room_id, event):
                    break
            else:
                log.warning("sync.undecryptable_unheld", room=room_id)
            return
        if not all(obs.may_dispatch(room_id) for obs in self.observers):
            return
        incoming = to_incoming(room_id, event, own)
        if incoming is None:
            return
        if self.inbox is not None and await self.inbox.already_handled(incoming.event_id):
            return  # a replay after a crash: the use case committed it already
        try:
            await self.sink(incoming)
        except Exception as exc:
            if database_unreachable(exc):
                # The database is away: replay this batch (with backoff) until it is back,
                # however long that takes. Skipping would lose the request.
                log.warning("sync.handler_waiting_for_database", error=type(exc).__name__)
                raise
            # Replaying the batch retries the handler; a poison event must not stall the
            # bot forever, so after a few tries it is skipped, loudly.
            tries = self._handler_failures.get(incoming.event_id, 0) + 1
            self._handler_failures[incoming.event_id] = tries
            if tries < self.max_handler_attempts:
                raise
            log.error(
                "sync.event_skipped",
                room=room_id,
                event_id=incoming.event_id,
                error=type(exc).__name__,
            )
            if self.on_trouble is not None:
                with contextlib.suppress(Exception):
                    await self.on_trouble(Trouble(tries, time.monotonic(), "handler_failed"))

    async def _dispatch_late(self, room_id: str, event: Event) -> None:
        """For events decrypted after the fact (held ones): same rules as the timeline."""
        await self._dispatch(room_id, event, self.session.user_id)

    async def _backfill(self, room_id: str, prev_batch: str, since: str) -> list[Event]:
        client = self.session.client
        chunks: list[Event] = []
        start = prev_batch
        for _ in range(self.max_backfill_pages):
            resp = await client.room_messages(
                room_id, start=start, end=since, direction=MessageDirection.back, limit=100
            )
            if not isinstance(resp, RoomMessagesResponse):
                raise SyncFailed(
                    f"backfill:{getattr(resp, 'status_code', None)}", retry_after_of(resp)
                )
            chunks.extend(resp.chunk)
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        else:
            log.warning("sync.backfill_truncated", room=room_id)
        self.backfilled += len(chunks)
        log.info("sync.backfilled", room=room_id, events=len(chunks))
        return list(reversed(chunks))

    async def _key_maintenance(self) -> None:
        client = self.session.client
        async with self.session.crypto_lock:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()


def _after_own_join(events: list[Event], own: str) -> list[Event]:
    """Drop what happened before our own (latest) join: it is history, not a request."""
    cut = -1
    for i, event in enumerate(events):
        if (
            isinstance(event, RoomMemberEvent)
            and event.state_key == own
            and event.membership == "join"
            and event.prev_membership != "join"
        ):
            cut = i
    return events[cut + 1 :]
