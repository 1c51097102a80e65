"""The composition root: the only module that knows every part (docs/architecture.md).

``serve`` migrates the database, loads trust, starts one bot per configured account
(cross-signing bootstrapped; which account serves which room: ``partner_bots.accounts``),
outbox delivery, the SLA checker and the web app, sets ``ready``, and on ``stop`` shuts
down in reverse order: the event in hand finishes, delivery stops between messages, and
every bot session closes without logging out.

It runs as one of three roles (docs/operator.md, "Two roles"): ``all`` is everything in
one process (the embedded default); ``bot`` is the above without the web app, holding
the private sealing key, the pickle keys and the Matrix tokens; ``web`` (``serve_web``)
is the web app alone, which gets the public key only and a configuration without the
bot's secrets (``config.for_web_role``), and only queues: the bot role's delivery picks
up what it writes from the shared database.
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
from typing import TYPE_CHECKING, Any

from coordinator import notifications as n
from coordinator.config import ROLES, Config, for_web_role
from coordinator.health import Probe
from coordinator.logs import get_logger
from coordinator.sealing import PublicSealer, load_public_key
from coordinator.store import Inbox
from coordinator.usecases import Coordinator
from partner_bots.accounts import AccountRouter, RoutedEngagementRooms, RoutedSender
from partner_bots.bot import Bot, bot_from_config
from partner_bots.commands import BotTools
from partner_bots.device_trust import IdentityConfirmations
from partner_bots.heartbeat import SyncHeartbeat
from partner_bots.rooms import power_of
from partner_bots.session import BotSession
from partner_bots.sync import Trouble
from partner_bots.upgrades import FollowMoved, MovedRooms, RoomUpgrades, UpgradeFollower
from partner_bots.workflow.direct import DirectRooms
from partner_bots.workflow.directory import Directory
from partner_bots.workflow.edits import MatrixOriginals
from partner_bots.workflow.intake import IntakeDetails
from partner_bots.workflow.rooms import EngagementRooms, WorkflowDelivery
from partner_bots.workflow.sink import REPLY_SUFFIX, WorkflowSink
from partner_bots.workflow.staff_actions import WorkflowStaffActions

if TYPE_CHECKING:
    from dsx.web.auth import StaffAuth
    from dsx.web.settings import WebSettings

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

    async def notice(kind: str, failures: int) -> None:
        recovered = kind == "recovered"
        data = {"unreported" if recovered else "failures": failures}

        async def body(tx: Any) -> None:
            staff = n.StaffRoom(coordinator.ctx.staff_room)
            await tx.notify(staff, n.SyncTrouble(recovered, failures))
            tx.audit(f"sync.{kind}", account, **data)

        await coordinator.transaction(f"sync_{kind}", body, object)
        log.warning(f"sync.{kind}_reported", **data)

    async def on_trouble(trouble: Trouble) -> None:
        pending["failures"] = trouble.failures
        await notice("trouble", trouble.failures)
        pending.clear()  # queued: the recovery notice need not repeat it

    async def on_recovered() -> None:
        await notice("recovered", pending.pop("failures", 0))

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


async def _anchor_audit(coordinator: Coordinator, wake: Callable[[], None]) -> None:
    """Post the audit chain's head to the staff room once a day; the notice goes out at once."""
    result = await coordinator.anchor_audit_if_due()
    if result.posted:
        log.info("audit.anchor_posted", count=result.count)
        wake()


async def _open_coordinator(config: Config, sealer: PublicSealer | None) -> Coordinator:
    """The core, opened the same way by every role: it migrates and loads trust; what its
    use cases queue (typed notifications) is rendered by whichever role delivers it."""
    if config.database_url.startswith("sqlite"):
        await asyncio.to_thread(Path(config.data_dir).mkdir, parents=True, exist_ok=True)
    return await Coordinator.open(config, sealer=sealer)


def _staff_auth(coordinator: Coordinator, config: Config) -> StaffAuth:
    """The sign-in service the bot's ``!dsx login`` mints links with (in the database)."""
    from dsx.web.compose import staff_auth
    from dsx.web.settings import WebSettings

    return staff_auth(coordinator, config, WebSettings.from_config(config))


async def _start_web(
    coordinator: Coordinator,
    config: Config,
    sealer: PublicSealer,
    probe: Probe,
    actions: WorkflowStaffActions,
    settings: WebSettings | None = None,
) -> tuple[Any, str]:
    """The web app on ``[web]``; returns its runner and public URL."""
    from aiohttp import web

    from dsx.web.compose import build_web

    stack = build_web(coordinator, config, sealer, actions=actions, probe=probe, settings=settings)
    runner = web.AppRunner(stack.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.web.bind, config.web.port)
    await site.start()
    log.info("web.started")
    return runner, stack.settings.public_url


async def _start_metrics(config: Config, probe: Probe, *, health: bool = False) -> Any:
    """Prometheus metrics on their own port (loopback by default; ``port = 0``: off);
    with ``health``, also ``/healthz`` and ``/readyz`` (the bot role has no web app)."""
    if not config.metrics.port:
        return None
    from aiohttp import web

    from coordinator import metrics
    from dsx.web.views_health import probe_routes

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(
            body=await probe.metrics(), headers={"Content-Type": metrics.CONTENT_TYPE}
        )

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    if health:
        app.add_routes(probe_routes(probe))
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
    role: str = "all",
) -> None:
    """Run the coordinator until ``stop`` is set.

    ``web=None`` starts the dashboard when a sealing public key is configured (the public
    forms need it); ``on_ready`` gets the running parts once everything is up. ``role``
    is ``all``, ``bot`` (never the web app) or ``web`` (``serve_web``; no bots).
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "web":
        await serve_web(config, stop=stop, ready=ready)
        return
    sealer = _sealer(config)
    with_web = role == "all" and sealer is not None and web is not False
    # Migrates, loads trust; what use cases queue is rendered and threaded for the rooms.
    coordinator = await _open_coordinator(config, sealer)
    directory = Directory(coordinator.engine, config)
    # The bot answers !dsx login when a web app redeems the links: this process's, or the
    # web role's on the same database. Delivery mints each link as it sends (never stored).
    auth = _staff_auth(coordinator, config) if with_web or role == "bot" else None
    tools = BotTools(login=auth.create_login_link if auth else None)
    # One bot per account ([matrix] first); each room is served by exactly one of them.
    accounts = AccountRouter(config, directory, coordinator.engine)
    # Rooms followed through an upgrade (partner_bots/upgrades.py).
    moved = await MovedRooms.load(coordinator.engine)
    directory.moved = moved.moved
    follower = UpgradeFollower(coordinator, directory, moved)
    sinks: dict[str, WorkflowSink] = {}
    heartbeats: dict[str, SyncHeartbeat] = {}
    for position, account in enumerate(config.accounts):
        heartbeats[str(position)] = heartbeat = SyncHeartbeat()
        upgrades = RoomUpgrades(follower)
        # Same tools and inbox; each sink knows its own account's name for mentions.
        sinks[account.user_id] = WorkflowSink(coordinator, directory, tools, account.user_id)
        accounts.add(
            account.user_id,
            bot_from_config(
                config.for_account(account.user_id),
                accounts.registry(account.user_id),
                sinks[account.user_id],
                inbox=_RepliedInbox(coordinator.inbox),
                extra_observers=(heartbeat,),
                first_observers=(upgrades,),
                **_trouble_reports(coordinator, account.user_id),
            ),
        )
        heartbeat.loop = accounts.bots[account.user_id].sync
        upgrades.policy = accounts.bots[account.user_id].rooms
        accounts.bots[account.user_id].sender.closed = moved
    probe = Probe(
        coordinator.engine, lambda: {k: h.state() for k, h in heartbeats.items()}, role=role
    )
    bot, sink = accounts.primary_bot, sinks[config.matrix.user_id]
    # Whose words count: each sink asks its own account's device trust about the device
    # behind a command, and staff confirm changed identities in every account's pins.
    for user_id, each_bot in accounts.bots.items():
        sinks[user_id].devices = each_bot.trust
        sinks[user_id].originals = MatrixOriginals(each_bot.session)  # edited commands
    tools.identities = IdentityConfirmations(b.trust for b in accounts.bots.values())
    engagement_rooms = FollowMoved(
        RoutedEngagementRooms(
            accounts, {uid: EngagementRooms(b.session) for uid, b in accounts.bots.items()}
        ),
        moved,
    )
    directory.engagement_of_room = engagement_rooms.engagement_of_room

    async def power(room_id: str, user_id: str) -> float:
        return await power_of((await accounts.bot_of(room_id)).session, room_id, user_id)

    directory.power = power
    worker, worker_lock = await asyncio.to_thread(_outbox_worker, config)
    # One delivery for every account: the outbox claims rows of all rooms at once, and
    # each row goes out through the account serving its room. Only delivery holds the
    # private sealing key: it opens intake details for E2EE rooms.
    delivery = WorkflowDelivery(
        RoutedSender(accounts),
        coordinator.outbox,
        worker,
        engagement_rooms=engagement_rooms,
        intake=IntakeDetails.from_key_file(
            coordinator.engine, config.sealing.private_key_file, audit_key=coordinator.audit_key
        ),
        partners=directory,
        engine=coordinator.engine,
    )
    if auth is not None:
        delivery.login = auth.create_login_link
        delivery.login_minutes = auth.login_link_minutes
        # Links go to each staff member's direct room, opened by the staff room's account.
        delivery.direct = DirectRooms(bot.session, coordinator.engine)

    async def session_of(room: str) -> BotSession:
        return (await accounts.bot_of(room)).session

    delivery.forgetting.sessions = session_of  # redactions, removals, leaving
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
            if with_web and sealer is not None:  # (sealer: for mypy)
                actions = WorkflowStaffActions(coordinator, tools)
                web_runner, running.web_url = await _start_web(
                    coordinator, config, sealer, probe, actions
                )
            metrics_runner = await _start_metrics(config, probe, health=role == "bot")
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


def web_role(config: Config) -> tuple[Config, tuple[str, ...], WebSettings]:
    """The web role's configuration (``for_web_role``), the keys it dropped, and its web
    settings. The settings are made first: the rate-limit key that every web process
    shares is derived one-way from the pickle key (dsx/web/settings.py), and the pickle
    key itself is then dropped with the other secrets."""
    from dsx.web.settings import WebSettings

    settings = WebSettings.from_config(config)
    stripped, dropped = for_web_role(config)
    return stripped, dropped, settings


async def serve_web(
    config: Config, *, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """The web role until ``stop``: public forms, dashboard and API, nothing else.

    It starts from ``for_web_role(config)``, so the private key's path, the pickle keys and
    the Matrix passwords and tokens are gone before anything is built: the process cannot
    open the private key file or log in, whatever its configuration says (set ones are
    logged by name and ignored). The forms seal with the public key; what staff do on the
    dashboard is queued in the outbox for the bot role to deliver.
    """
    config, dropped, settings = web_role(config)
    if dropped:
        log.warning("role.web_ignored", keys=",".join(dropped))
    if not config.sealing.public_key_file:
        raise RoleError("the web role serves the request forms: set [sealing] public_key_file")
    sealer = load_public_key(config.sealing.public_key_file)
    coordinator = await _open_coordinator(config, sealer)
    probe = Probe(coordinator.engine, dict, role="web")
    runner: Any = None
    try:
        actions = WorkflowStaffActions(coordinator, BotTools())
        runner, _url = await _start_web(coordinator, config, sealer, probe, actions, settings)
        log.info("service.ready", role="web")
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        log.info("service.stopping")
        if runner is not None:
            await runner.cleanup()
        await coordinator.aclose()
        log.info("service.stopped")


class RoleError(RuntimeError):
    """A role cannot start with this configuration (said in one line by ``dsx run``)."""
