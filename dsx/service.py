"""The composition root: the only module that knows every part (docs/architecture.md).

``serve`` migrates the database, loads trust, starts one bot per configured account
(cross-signing bootstrapped; which account serves which room: ``partner_bots.accounts``),
outbox delivery, the SLA checker and the web app, sets ``ready``, and on ``stop`` shuts
down in reverse order: the event in hand finishes, delivery stops between messages, and
every bot session closes without logging out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator.config import Config
from coordinator.health import Probe
from coordinator.logs import get_logger
from coordinator.sealing import PublicSealer, load_public_key
from coordinator.store import Inbox
from coordinator.store.renames import finish_renames
from coordinator.usecases import Coordinator, messages
from partner_bots.accounts import AccountRouter, RoutedEngagementRooms, RoutedSender
from partner_bots.bot import Bot, bot_from_config
from partner_bots.device_trust import IdentityConfirmations
from partner_bots.heartbeat import SyncHeartbeat
from partner_bots.rooms import power_of
from partner_bots.sync import Trouble
from partner_bots.workflow.direct import DirectRooms
from partner_bots.workflow.directory import Directory
from partner_bots.workflow.intake import IntakeDetails
from partner_bots.workflow.names import OrganizationNames
from partner_bots.workflow.rooms import EngagementRooms, WorkflowDelivery
from partner_bots.workflow.services import WorkflowServices
from partner_bots.workflow.sink import REPLY_SUFFIX, WorkflowSink
from partner_bots.workflow.staff_actions import WorkflowStaffActions

log = get_logger(__name__)

RETENTION_PERIOD_S = 3600.0
# How often to see whether the daily audit anchor is due (coordinator/usecases/anchoring.py).
ANCHOR_CHECK_S = 3600.0


@dataclass
class Running:
    """What ``serve`` started, for tests and the demo (``on_ready`` receives it)."""

    config: Config
    coordinator: Coordinator
    bot: Bot
    delivery: WorkflowDelivery
    sink: WorkflowSink
    directory: Directory
    web_url: str | None = None
    # Every account's bot, the primary (``bot``) first, and which one serves a room.
    bots: tuple[Bot, ...] = ()
    accounts: AccountRouter | None = None


class _RepliedInbox:
    """The sync loop's "already handled" check, keyed on the event's *reply*.

    The sink commits a command's use case (keyed by the event id) and then its reply (keyed
    ``<event id>:reply``) in a second transaction. A SIGKILL between the two left the event
    marked handled, so the replay after restart skipped it and the reply was never queued
    (found by tests/drills/test_sigkill.py). Only the reply's key means "done"; a replay
    before it re-runs the command, whose use case returns its stored result, and queues
    the reply once.
    """

    def __init__(self, inbox: Inbox):
        self._inbox = inbox

    async def already_handled(self, event_id: str) -> bool:
        return await self._inbox.already_handled(event_id + REPLY_SUFFIX)


def _trouble_reports(coordinator: Coordinator, account: str) -> dict[str, Any]:
    """``on_trouble``/``on_recovered`` for an account's sync loop, which calls each once per
    episode of persistent failure: one staff-room notice for the outage and one for the
    recovery, queued in the outbox (they go out, in order, once the homeserver answers).
    When the trouble is the database itself, the first notice cannot be queued; the
    recovery notice then says what happened, so staff still hear of it once."""
    pending: dict[str, int] = {}

    async def notice(kind: str, text: str, **data: Any) -> None:
        async def body(tx: Any) -> None:
            await tx.send(coordinator.ctx.staff_room, messages.staff(text, kind=kind, **data))
            tx.audit(f"sync.{kind}", account, **data)

        await coordinator.transaction(f"sync_{kind}", body, object)
        log.warning(f"sync.{kind}_reported", **data)

    async def on_trouble(trouble: Trouble) -> None:
        pending["failures"] = trouble.failures
        await notice(
            "trouble",
            f"Trouble: the bot's sync with the homeserver failed {trouble.failures} times in "
            "a row. Messages wait in the outbox and go out once it works again.",
            failures=trouble.failures,
        )
        pending.clear()  # queued: the recovery notice need not repeat it

    async def on_recovered() -> None:
        unreported = pending.pop("failures", 0)
        text = "Recovered: the bot syncs again; queued messages are going out."
        if unreported:
            text = f"The bot's sync failed {unreported} times in a row (not reported then). {text}"
        await notice("recovered", text, unreported=unreported)

    return {"on_trouble": on_trouble, "on_recovered": on_recovered}


def _outbox_worker(config: Config) -> tuple[str, Any]:
    """The outbox worker name, and the open file whose lock makes it this process's.

    A process restarted after a crash takes over its dead predecessor's name, so the rows
    that one had leased go out at once instead of when the lease runs out (a minute of
    silence after each SIGKILL in tests/drills/test_sigkill.py). The name is kept in the
    data folder under an exclusive lock; the lock dies with its process, and while another
    live process holds it (or the folder is not writable) a name of our own is used.
    """
    fallback = f"{socket.gethostname()}-{os.getpid()}"
    handle = None
    try:
        folder = Path(config.data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / "outbox-worker").open("a+")
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.seek(0)
        name = handle.read().strip()
        if not name:
            name = f"{socket.gethostname()}-{secrets.token_hex(4)}"
            handle.seek(0)
            handle.truncate()
            handle.write(name)
            handle.flush()
    except OSError:
        if handle is not None:
            handle.close()
        return fallback, None
    return name, handle


def _sealer(config: Config) -> PublicSealer | None:
    path = config.sealing.public_key_file
    return load_public_key(path) if path else None


async def _every(period: float, job: Callable[[], Awaitable[object]], failed: str) -> None:
    """Run ``job`` now and then every ``period`` seconds; one failure must not end the loop."""
    while True:
        try:
            await job()
        except Exception as exc:
            log.warning(failed, error=type(exc).__name__)
        await asyncio.sleep(period)


async def _check_sla(coordinator: Coordinator, wake: Callable[[], None]) -> None:
    """Escalate urgent requests nobody acted on; the notices go out at once."""
    if (await coordinator.check_sla()).escalated:
        wake()


async def _purge_intake(coordinator: Coordinator) -> None:
    """Purge delivered public-form submissions past their retention (coordinator/retention.py)."""
    result = await coordinator.purge_delivered_intake()
    if result.references:
        log.info("retention.intake_purged", count=len(result.references))
    swept = await coordinator.sweep_retention()
    if swept.outbox or swept.inbox or swept.referred:
        log.info(
            "retention.swept", outbox=swept.outbox, inbox=swept.inbox, referred=len(swept.referred)
        )


async def _anchor_audit(coordinator: Coordinator, wake: Callable[[], None]) -> None:
    """Post the audit chain's head to the staff room once a day; the notice goes out at once."""
    result = await coordinator.anchor_audit_if_due()
    if result.posted:
        log.info("audit.anchor_posted", count=result.count)
        wake()


async def _start_web(running: Running, sealer: PublicSealer, probe: Probe) -> Any:
    from aiohttp import web

    from dsx.web.compose import build_web

    actions = WorkflowStaffActions(running.coordinator, running.sink.services)
    stack = build_web(running.coordinator, running.config, sealer, actions=actions, probe=probe)
    # The bot answers !dsx login; delivery mints the link as it sends (never stored).
    running.sink.services.login = running.delivery.login = stack.auth.create_login_link
    # Links go to each staff member's direct room, opened by the staff room's account.
    running.delivery.direct = DirectRooms(running.bot.session, running.coordinator.engine)
    runner = web.AppRunner(stack.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, running.config.web.bind, running.config.web.port)
    await site.start()
    running.web_url = stack.settings.public_url
    log.info("web.started")
    return runner


async def _start_metrics(config: Config, probe: Probe) -> Any:
    """Prometheus metrics on their own port (loopback by default; ``port = 0``: off)."""
    if not config.metrics.port:
        return None
    from aiohttp import web

    from coordinator import metrics

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(
            body=await probe.metrics(), headers={"Content-Type": metrics.CONTENT_TYPE}
        )

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.metrics.bind, config.metrics.port).start()
    log.info("metrics.started", port=config.metrics.port)
    return runner


async def _first(*waits: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def serve(
    config: Config,
    *,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    web: bool | None = None,
    sla_period: float | None = None,
    on_ready: Callable[[Running], None] | None = None,
) -> None:
    """Run the coordinator until ``stop`` is set.

    ``web=None`` starts the dashboard when a sealing public key is configured (the public
    forms need it); ``on_ready`` gets the running parts once everything is up.
    """
    if config.database_url.startswith("sqlite"):
        await asyncio.to_thread(Path(config.data_dir).mkdir, parents=True, exist_ok=True)
    sealer = _sealer(config)
    coordinator = await Coordinator.open(config, sealer=sealer)  # migrates, loads trust
    directory = Directory(coordinator.engine, config)
    services = WorkflowServices(coordinator, directory)
    # One bot per account ([matrix] first); each room is served by exactly one of them.
    accounts = AccountRouter(config, directory, coordinator.engine)
    sinks: dict[str, WorkflowSink] = {}
    heartbeats: dict[str, SyncHeartbeat] = {}
    for position, account in enumerate(config.accounts):
        heartbeats[str(position)] = heartbeat = SyncHeartbeat()
        # Same services and inbox; each sink knows its own account's name for mentions.
        sinks[account.user_id] = WorkflowSink(coordinator, directory, services, account.user_id)
        accounts.add(
            account.user_id,
            bot_from_config(
                config.for_account(account.user_id),
                accounts.registry(account.user_id),
                sinks[account.user_id],
                inbox=_RepliedInbox(coordinator.inbox),
                extra_observers=(heartbeat,),
                **_trouble_reports(coordinator, account.user_id),
            ),
        )
        heartbeat.loop = accounts.bots[account.user_id].sync
    probe = Probe(coordinator.engine, lambda: {k: h.state() for k, h in heartbeats.items()})
    bot, sink = accounts.primary_bot, sinks[config.matrix.user_id]
    # Whose words count: each sink asks its own account's device trust about the device
    # behind a command, and staff confirm changed identities in every account's pins.
    for user_id, each_bot in accounts.bots.items():
        sinks[user_id].devices = each_bot.trust
    services.identities = IdentityConfirmations(b.trust for b in accounts.bots.values())
    engagement_rooms = RoutedEngagementRooms(
        accounts, {uid: EngagementRooms(b.session) for uid, b in accounts.bots.items()}
    )
    directory.engagement_of_room = engagement_rooms.engagement_of_room

    async def power(room_id: str, user_id: str) -> float:
        return await power_of((await accounts.bot_of(room_id)).session, room_id, user_id)

    directory.power = power
    worker, worker_lock = await asyncio.to_thread(_outbox_worker, config)
    # One delivery for every account: the outbox claims rows of all rooms at once, and
    # each row goes out through the account serving its room.
    delivery = WorkflowDelivery(
        RoutedSender(accounts),
        coordinator.outbox,
        worker,
        engagement_rooms=engagement_rooms,
        partners=directory,
        engine=coordinator.engine,
    )
    # Only delivery holds the private sealing key: it opens intake details for E2EE rooms.
    private_key = config.sealing.private_key_file
    delivery.intake = IntakeDetails.from_key_file(
        coordinator.engine, private_key, audit_key=coordinator.audit_key
    )
    # The same key opens organizations' names for the rooms that may read them.
    names = OrganizationNames(coordinator.engine, delivery.intake.opener)
    delivery.names = services.names = names
    await finish_renames(coordinator.engine, sealer, delivery.intake.opener)
    for each in sinks.values():
        each.wake = delivery.wake
    running = Running(
        config,
        coordinator,
        bot,
        delivery,
        sink,
        directory,
        bots=tuple(accounts.bots.values()),
        accounts=accounts,
    )
    tasks: list[asyncio.Task[None]] = []
    web_runner: Any = None
    metrics_runner: Any = None
    try:
        await accounts.start()
        # Rooms and their encryption state are known only after the first sync.
        await _first(accounts.synced(), stop.wait())
        if not stop.is_set():
            tasks.append(asyncio.create_task(delivery.run(), name="delivery"))
            sla_every = sla_period or float(config.policy.sla_check_seconds)
            periodic = {
                "sla": _every(
                    sla_every, lambda: _check_sla(coordinator, delivery.wake), "sla.check_failed"
                ),
                "retention": _every(
                    RETENTION_PERIOD_S, lambda: _purge_intake(coordinator), "retention.failed"
                ),
                "audit_anchor": _every(
                    ANCHOR_CHECK_S,
                    lambda: _anchor_audit(coordinator, delivery.wake),
                    "audit.anchor_failed",
                ),
            }
            tasks += [asyncio.create_task(job, name=name) for name, job in periodic.items()]
            if (web if web is not None else sealer is not None) and sealer is not None:
                web_runner = await _start_web(running, sealer, probe)
            metrics_runner = await _start_metrics(config, probe)
            log.info("service.ready")
            if on_ready is not None:
                on_ready(running)
            if ready is not None:
                ready.set()
            await stop.wait()
    finally:
        log.info("service.stopping")
        delivery.stop()
        for task in tasks:
            if task.get_name() != "delivery":  # the periodic jobs; delivery was stopped
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for runner in (web_runner, metrics_runner):
            if runner is not None:
                await runner.cleanup()
        await accounts.stop()  # each finishes the event in hand; none logs out
        await coordinator.aclose()
        if worker_lock is not None:
            worker_lock.close()
        log.info("service.stopped")
