"""Sustained load on two federated homeservers; prints one JSON object.

The coordinator runs as a real ``dsx run`` process (its own interpreter, SQLite store by
default), so its memory (RSS from /proc) and CPU are its own. Its bot lives on the first
homeserver; partner rooms are split between both (rooms on the second are federated).

For 20 and then 100 partner rooms, requests are offered open-loop at a rate that rises
each step (1, 2, 3, 4, 6, 8, … per second), spread round-robin over the rooms and sent by several
partner clients at once (one client was the bottleneck before). Each request's latency is
the time from the start of its send to its proposal being decrypted by a partner member's
client on the room's homeserver (a reader that only syncs). After each step everything is
drained: requests sent versus proposals received (zero loss). The knee is the first rate
whose p50 is at least twice the p50 of the lowest step; stepping stops there. The floor is
an echo bot's round trip (local and federated), measured in the same run, idle.

The echo bot's own knee is measured first, in the same rooms with the same clients and
steps: a separate echo process (tests/matrix/echo_bot.py: sync, inbox, outbox, encrypted
send, no use case) answers each request in its thread with a proposal-shaped message.
``knee_ratio`` is the coordinator's knee over the echo bot's, per room count. With
``--soak N`` the coordinator then serves N more requests at ``--soak-rate`` over every
room, and its RSS is read after each thousand (flat after the first thousand is the goal).

    .venv/bin/python bench/load.py [--rooms 20,100] [--rates 1,2,3,4,6,8,12,16,24,32]
                                   [--step-seconds 10 | --minutes M] [--senders 4]
                                   [--no-echo-knee] [--soak 10000 --soak-rate 3]

``--minutes`` sets how long the offered load lasts in total (the step length follows);
the defaults take about 3 to 5 minutes on a two-core machine, set-up included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# This folder holds a file named like the ``coordinator`` package: keep it off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench._harness import WARMUP, echo_floor, summary  # noqa: E402
from coordinator import audit_key  # noqa: E402
from coordinator import config as cfg  # noqa: E402
from coordinator.store.migrate import migrate  # noqa: E402
from coordinator.usecases import Coordinator  # noqa: E402
from dsx.demo.stack import to_toml  # noqa: E402
from partner_bots.homeserver.synapse import Homeserver, start_federation  # noqa: E402
from tests.workflow.harness import PICKLE_KEY, PROPOSAL, Member, knows_devices  # noqa: E402

KNEE_FACTOR = 2.0
_T0 = time.perf_counter()
MAX_CAPACITY = 50  # the most engagements (and pending proposals) a provider may hold
MIN_SAMPLES_PER_STEP = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


def note(what: str) -> None:
    """Progress on stderr (stdout carries only the JSON)."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {what}", file=sys.stderr, flush=True)


# -- clients ------------------------------------------------------------------------------


class Reader(Member):
    """A partner member's client that only syncs and notes when each proposal was first
    decrypted, keyed by the request it answers (the proposal sits in its thread)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.bot = ""
        self.arrivals: dict[str, float] = {}

    def _record(self, room_id: str, event: Any) -> None:
        super()._record(room_id, event)
        source = getattr(event, "source", None)
        if not isinstance(source, dict) or source.get("sender") != self.bot:
            return
        content = source.get("content", {})
        if PROPOSAL in content and "m.new_content" not in content:
            root = (content.get("m.relates_to") or {}).get("event_id")
            if root:
                self.arrivals.setdefault(root, time.perf_counter())

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sync(timeout_ms=1000)
            except Exception:  # a slow homeserver under load: keep reading
                await asyncio.sleep(0.5)


@dataclass
class Sender:
    """A partner member who files requests; one send at a time per client."""

    member: Member
    rooms: list[str] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


# -- the coordinator process ----------------------------------------------------------------


def _proc_status(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    except OSError:
        return None
    return None


def cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class BotProcess:
    """A bot as a child process; its log is read (and dropped) as it goes. The default is
    the coordinator, ``dsx run --config FILE``."""

    def __init__(self, config: Path, module: str = "dsx.cli.main", ready: str = "service.ready"):
        self.config = config
        self.module = module
        self.ready_marker = ready
        self.proc: asyncio.subprocess.Process | None = None
        self.tail: deque[str] = deque(maxlen=40)
        self.levels: dict[str, int] = {}
        self.ready = asyncio.Event()
        self.rss_max_kb = 0
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 180.0) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            *(["run", "--config"] if self.module == "dsx.cli.main" else []),
            str(self.config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(_HERE.parent),
        )
        self._reader = asyncio.create_task(self._read())
        waiter = asyncio.ensure_future(self.ready.wait())
        done, _ = await asyncio.wait(
            {waiter, self._reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            raise RuntimeError(f"{self.module} did not start: " + "".join(self.tail)[-2000:])

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = line.decode(errors="replace")
            self.tail.append(text)
            try:
                level = str(json.loads(text).get("level", "?"))
            except ValueError:
                level = "text"
            self.levels[level] = self.levels.get(level, 0) + 1
            if self.ready_marker in text:
                self.ready.set()

    def rss_kb(self) -> int | None:
        rss = _proc_status(self.pid, "VmRSS")
        if rss:
            self.rss_max_kb = max(self.rss_max_kb, rss)
        return rss

    def peak_kb(self) -> int | None:
        return _proc_status(self.pid, "VmHWM")

    async def stop(self) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), 60)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return code


# -- one run ---------------------------------------------------------------------------------


@dataclass
class World:
    hs1: Homeserver
    hs2: Homeserver
    bot: str
    senders: list[Sender]
    readers: list[Reader]
    rooms: list[str]  # in the order phases use them: a mix of both homeservers
    handle: dict[str, str]
    owner: dict[str, Sender]
    federated: set[str]
    process: BotProcess
    sent: dict[str, tuple[float, str]] = field(default_factory=dict)  # every counted request

    def arrival(self, request_event: str) -> float | None:
        for reader in self.readers:
            if request_event in reader.arrivals:
                return reader.arrivals[request_event]
        return None


async def make_rooms(
    hs1: Homeserver, hs2: Homeserver, root: Path, count: int, senders: int
) -> tuple[list[Sender], list[Reader], list[str], set[str]]:
    """Partner rooms, created concurrently by ``senders`` clients alternating between the two
    homeservers; a reader on each homeserver joins the rooms there before the bot does."""
    readers = [
        await Reader.create(hs1, root / "clients", "reader"),
        await Reader.create(hs2, root / "clients", "reader"),
    ]
    clients = [
        Sender(await Member.create((hs1, hs2)[i % 2], root / "clients", f"sender{i}"))
        for i in range(senders)
    ]
    rooms: list[str | None] = [None] * count

    async def create(index: int, sender: Sender) -> None:
        for i in range(index, count, senders):
            reader = readers[index % 2]
            room = await sender.member.create_encrypted_room(invite=[reader.user_id])
            sender.rooms.append(room)
            rooms[i] = room

    await asyncio.gather(*(create(i, s) for i, s in enumerate(clients)))

    async def join_all(reader: Reader, mine: list[str]) -> None:
        for room in mine:
            for _ in range(20):
                resp = await reader.client.join(room)
                if getattr(resp, "room_id", None):
                    break
                await asyncio.sleep(0.3)
            else:
                raise RuntimeError(f"reader could not join: {resp}")
        await reader.sync()

    await asyncio.gather(
        *(
            join_all(r, [room for s in clients[k::2] for room in s.rooms])
            for k, r in enumerate(readers)
        )
    )
    federated = {room for s in clients[1::2] for room in s.rooms}
    return clients, readers, [r for r in rooms if r], federated


async def seed(config: cfg.Config, handles: list[str], per_partner: int, hs: Homeserver) -> None:
    """Each partner vouches for its own providers (who always rank first for its requests:
    a single-partner proposal) and for one vetted organization."""
    core = await Coordinator.open(config)
    try:
        for handle in handles:
            for j in range(per_partner):
                provider = f"@load-{handle}-{j}:{hs.server_name}"
                await core.add_provider(
                    provider, ["phishing"], ["en"], ["US-CA"], capacity=MAX_CAPACITY
                )
                await core.vouch(handle, provider)
                await core.vet(provider)
            await core.add_organization(f"org-{handle}", handle, region="US-CA")
            await core.vouch(handle, f"org-{handle}")
            await core.vet(f"org-{handle}")
    finally:
        await core.aclose()


def providers_needed(room_counts: list[int], rates: list[float], seconds: float) -> int:
    """Providers per partner so that no request goes unmatched: proposals stay pending
    (nobody approves), and each one holds a slot of the provider's capacity."""
    per_room = 1.0  # the warm-up request
    for n in room_counts:
        offered = sum(max(MIN_SAMPLES_PER_STEP, rate * seconds) for rate in rates)
        per_room += offered / n + 1
    return max(1, math.ceil(per_room / (MAX_CAPACITY - 5)))


async def invite_bot(world: World, timeout: float = 300.0) -> None:
    """Invite ``world.bot`` to every room; back when it joined all and its devices are known."""

    async def one(sender: Sender) -> None:
        for room in sender.rooms:
            await sender.member.client.room_invite(room, world.bot)

        def joined() -> bool:
            rooms = sender.member.client.rooms
            return all(
                r in rooms
                and world.bot in rooms[r].users
                and world.bot not in rooms[r].invited_users
                for r in sender.rooms
            )

        await sender.member.sync_until(joined, timeout, "the bot to join every room")
        await knows_devices(sender.member, world.bot, timeout)

    await asyncio.gather(*(one(s) for s in world.senders))


async def send_request(world: World, room: str, sent: dict[str, tuple[float, str]]) -> bool:
    sender = world.owner[room]
    async with sender.lock:
        start = time.perf_counter()
        try:
            event_id = await sender.member.send_text(
                room, f"!dsx request org-{world.handle[room]} skills=phishing"
            )
        except Exception:
            return False
    sent[event_id] = (start, room)
    return True


async def drain(world: World, sent: dict[str, tuple[float, str]], timeout: float) -> float:
    """Until every sent request's proposal arrived (or ``timeout``); seconds it took."""
    start = time.perf_counter()
    while any(world.arrival(e) is None for e in sent):
        if time.perf_counter() - start > timeout:
            break
        await asyncio.sleep(0.2)
    return time.perf_counter() - start


async def warm_up(world: World, rooms: list[str]) -> dict[str, Any]:
    """One request per room, not counted: the first message in a room sets up its
    Megolm sessions (and the bot's Olm sessions with every device there)."""
    sent: dict[str, tuple[float, str]] = {}
    await asyncio.gather(*(send_request(world, r, sent) for r in rooms))
    waited = await drain(world, sent, 180)
    missing = sum(1 for e in sent if world.arrival(e) is None)
    return {"rooms": len(rooms), "seconds": round(waited, 1), "missing": missing}


class Monitor:
    """Samples the coordinator's RSS every half second while a step runs."""

    def __init__(self, process: BotProcess):
        self.process = process
        self.max_kb = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.max_kb = max(self.max_kb, self.process.rss_kb() or 0)
            await asyncio.sleep(0.5)

    def __enter__(self) -> Monitor:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def step(world: World, rooms: list[str], rate: float, seconds: float) -> dict[str, Any]:
    count = max(MIN_SAMPLES_PER_STEP, round(rate * seconds))
    sent: dict[str, tuple[float, str]] = {}
    pids = {
        "bot": world.process.pid,  # the coordinator, or the echo bot in echo phases
        "hs1": world.hs1.pid,
        "hs2": world.hs2.pid,
        "bench_clients": os.getpid(),  # the senders' and readers' E2EE work
    }
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
    loop = asyncio.get_running_loop()
    with Monitor(world.process) as monitor:
        t0 = loop.time()
        wall0 = time.perf_counter()
        tasks = []
        for j in range(count):
            delay = t0 + j / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            room = rooms[j % len(rooms)]
            tasks.append(asyncio.create_task(send_request(world, room, sent)))
        results = await asyncio.gather(*tasks)
        send_seconds = time.perf_counter() - wall0
        drained = await drain(world, sent, max(60.0, 3 * seconds))
        wall = time.perf_counter() - wall0
    world.sent.update(sent)
    cpu1 = {k: cpu_seconds(p) for k, p in pids.items()}
    latencies: dict[str, list[float]] = {"all": [], "local": [], "federated": []}
    for event_id, (start, room) in sent.items():
        arrived = world.arrival(event_id)
        if arrived is None:
            continue
        ms = (arrived - start) * 1000
        latencies["all"].append(ms)
        latencies["federated" if room in world.federated else "local"].append(ms)
    received = len(latencies["all"])
    out: dict[str, Any] = {
        "offered_per_second": rate,
        "requests": count,
        "sent": len(sent),
        "send_errors": results.count(False),
        "proposals_received": received,
        "missing_after_drain": len(sent) - received,
        "achieved_send_per_second": round(len(sent) / send_seconds, 2),
        "drain_seconds": round(drained, 1),
        "latency_ms": summary(latencies["all"]) if latencies["all"] else None,
        "latency_local_ms": summary(latencies["local"]) if latencies["local"] else None,
        "latency_federated_ms": (
            summary(latencies["federated"]) if latencies["federated"] else None
        ),
        "coordinator_rss_max_mb": round(monitor.max_kb / 1024, 1),
        "bot_cpu_ms_per_request": (
            round(1000 * (cpu1["bot"] - cpu0["bot"]) / len(sent), 2)
            if sent and cpu0["bot"] is not None and cpu1["bot"] is not None
            else None
        ),
        "cpu_percent": {
            k: round(100 * (cpu1[k] - cpu0[k]) / wall, 1)
            for k in pids
            if cpu0[k] is not None and cpu1[k] is not None
        },
    }
    return out


async def phase(
    world: World, n_rooms: int, rates: list[float], seconds: float, warmed: set[str]
) -> dict[str, Any]:
    rooms = world.rooms[:n_rooms]
    todo = [r for r in rooms if r not in warmed]
    warm = await warm_up(world, todo) if todo else {"rooms": 0}
    warmed.update(todo)
    note(f"{n_rooms} rooms: warm-up {warm}")
    steps: list[dict[str, Any]] = []
    knee: float | None = None
    stopped = "highest rate reached"
    for rate in rates:
        result = await step(world, rooms, rate, max(seconds, MIN_SAMPLES_PER_STEP / rate))
        steps.append(result)
        missing = result["missing_after_drain"]
        note(f"{n_rooms} rooms, {rate}/s: {result['latency_ms']} missing {missing}")
        base = steps[0]["latency_ms"]
        now = result["latency_ms"]
        if result["missing_after_drain"]:
            stopped = "overloaded: not every proposal arrived within the drain window"
            break
        if now and base and now["p50"] >= KNEE_FACTOR * base["p50"]:
            knee = rate
            stopped = "knee"
            break
        if result["achieved_send_per_second"] < 0.7 * rate:
            stopped = "the sending clients could not offer this rate"
            break
    clean = [s for s in steps if not s["missing_after_drain"] and s["offered_per_second"] != knee]
    return {
        "rooms": n_rooms,
        "federated_rooms": sum(1 for r in rooms if r in world.federated),
        "warm_up": warm,
        "steps": steps,
        "knee_per_second": knee,
        "max_rate_below_knee_per_second": clean[-1]["offered_per_second"] if clean else None,
        "stopped": stopped,
        "requests_sent": sum(s["sent"] for s in steps),
        "proposals_received_within_drain": sum(s["proposals_received"] for s in steps),
    }


async def start_echo(root: Path, hs: Homeserver, rooms: list[str]) -> tuple[BotProcess, str]:
    """The echo bot as its own process, serving every partner room (not yet invited)."""
    folder = root / "echo-knee"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder / 'echo.sqlite3'}"
    await migrate(url)
    password = secrets.token_urlsafe(12)
    user = (await hs.register(f"echoload-{secrets.token_hex(3)}", password)).user_id
    config = folder / "echo.json"
    config.write_text(
        json.dumps(
            {
                "db_url": url,
                "homeserver_url": hs.base_url,
                "user_id": user,
                "password": password,
                "device_id": "ECHOLOAD",
                "store_path": str(folder / "store"),
                "pickle_key": PICKLE_KEY,
                "rooms": rooms,
                "proposal": True,
                "long_poll_ms": 30_000,  # as the coordinator's sync
            }
        )
    )
    process = BotProcess(config, module="tests.matrix.echo_bot", ready="runner.started")
    await process.start()
    return process, user


def knee_ratios(phases: list[dict[str, Any]], echo: list[dict[str, Any]]) -> dict[str, Any]:
    """Per room count: the coordinator's knee over the echo bot's. Where a bot reached the
    highest rate without a knee, its highest clean rate stands in (a lower bound)."""

    def knee(p: dict[str, Any]) -> tuple[float | None, bool]:
        if p["knee_per_second"] is not None:
            return p["knee_per_second"], True
        return p["max_rate_below_knee_per_second"], False

    out: dict[str, Any] = {}
    by_rooms = {p["rooms"]: p for p in echo}
    for p in phases:
        e = by_rooms.get(p["rooms"])
        if e is None:
            continue
        (c, c_found), (b, b_found) = knee(p), knee(e)
        out[str(p["rooms"])] = {
            "coordinator_per_second": c,
            "echo_per_second": b,
            "ratio": round(c / b, 2) if c and b else None,
            "measured": "both knees" if c_found and b_found else "lower bounds where no knee",
        }
    return out


async def soak_run(world: World, total: int, rate: float) -> dict[str, Any]:
    """``total`` requests at ``rate`` over every room, in steps of a thousand; RSS and
    CPU per request after each (the coordinator should stay flat after the first)."""
    marks: list[dict[str, Any]] = []
    done = 0
    while done < total:
        chunk = min(1000, total - done)
        result = await step(world, world.rooms, rate, chunk / rate)
        done += result["sent"]
        marks.append(
            {
                "requests": done,
                "rss_mb": round((world.process.rss_kb() or 0) / 1024, 1),
                "missing": result["missing_after_drain"],
                "latency_ms": result["latency_ms"],
                "bot_cpu_ms_per_request": result["bot_cpu_ms_per_request"],
            }
        )
        note(f"soak {done}/{total}: {marks[-1]}")
        if result["send_errors"] == result["requests"]:
            break
    first = marks[0]["rss_mb"] if marks else None
    return {
        "rate_per_second": rate,
        "marks": marks,
        "rss_growth_after_first_thousand_mb": (
            round(marks[-1]["rss_mb"] - first, 1) if marks and first is not None else None
        ),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    room_counts = [int(x) for x in args.rooms.split(",")]
    rates = [float(x) for x in args.rates.split(",")]
    seconds = args.step_seconds
    if args.minutes:
        seconds = args.minutes * 60 / (len(room_counts) * len(rates))
    began = time.perf_counter()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dsx-bench-load-") as tmp:
        root = Path(tmp)
        servers = await start_federation(root / "homeservers")
        hs1, hs2 = servers
        process: BotProcess | None = None
        echo_process: BotProcess | None = None
        stop_reading = asyncio.Event()
        clients: list[Member] = []
        try:
            note("homeservers started")
            senders, readers, rooms, federated = await make_rooms(
                hs1, hs2, root, max(room_counts), args.senders
            )
            clients = [s.member for s in senders] + list(readers)
            password = secrets.token_urlsafe(12)
            bot = (await hs1.register(f"dsxload-{secrets.token_hex(3)}", password)).user_id
            handle = {room: f"p{i}" for i, room in enumerate(rooms)}
            owner = {room: s for s in senders for room in s.rooms}
            doc: dict[str, Any] = {
                "data_dir": str(root / "coordinator"),
                "matrix": {
                    "homeserver_url": hs1.base_url,
                    "user_id": bot,
                    "password": password,
                    "device_id": "DSXLOAD",
                    "pickle_key": PICKLE_KEY,
                },
                "partners": [
                    {"handle": handle[r], "rooms": [r], "members": [owner[r].member.user_id]}
                    for r in rooms
                ],
                # `dsx run` needs a staff list; the load run has no staff room.
                "staff": {"members": [senders[0].member.user_id]},
            }
            if args.database_url:
                doc["database"] = {"url": args.database_url}
            path = root / "dsx.toml"
            path.write_text(to_toml(doc))
            config = cfg.load(path, env={})
            (root / "coordinator" / "keys").mkdir(parents=True)
            audit_key.create(root / "coordinator" / "keys" / audit_key.KEY_FILE)
            note(f"{len(rooms)} partner rooms created")
            per_partner = providers_needed(room_counts, rates, seconds)
            await seed(config, list(handle.values()), per_partner, hs1)
            setup_s = time.perf_counter() - began
            note("seeded")
            follow = [asyncio.create_task(r.follow(stop_reading)) for r in readers]
            echo_phases: list[dict[str, Any]] = []
            if args.echo_knee:
                echo_process, echo_bot = await start_echo(root, hs1, rooms)
                for reader in readers:
                    reader.bot = echo_bot
                echo_world = World(
                    hs1,
                    hs2,
                    echo_bot,
                    senders,
                    readers,
                    rooms,
                    handle,
                    owner,
                    federated,
                    echo_process,
                )
                await invite_bot(echo_world)
                note("echo bot joined every room")
                echo_warmed: set[str] = set()
                for n in room_counts:
                    if n <= len(rooms):
                        echo_phases.append(await phase(echo_world, n, rates, seconds, echo_warmed))
                await echo_process.stop()
                note("echo knees measured")
            process = BotProcess(path)
            await process.start()
            note("coordinator ready")
            for reader in readers:
                reader.bot = bot
            world = World(hs1, hs2, bot, senders, readers, rooms, handle, owner, federated, process)
            joined0 = time.perf_counter()
            await invite_bot(world)
            join_s = time.perf_counter() - joined0
            note("bot joined every room")
            rss_idle = process.rss_kb()
            floors = {}
            for name, hs in (("local", hs1), ("federated", hs2)):
                (root / f"echo-{name}").mkdir()
                user = await Member.create(hs, root / "clients", f"echo-{name}")
                try:
                    floors[name] = summary(
                        await echo_floor(hs1, user, root / f"echo-{name}", args.floor_samples)
                    )
                finally:
                    await user.close()
            note(f"echo floor {floors}")
            warmed: set[str] = set()
            phases = [
                await phase(world, n, rates, seconds, warmed)
                for n in room_counts
                if n <= len(rooms)
            ]
            soak = await soak_run(world, args.soak, args.soak_rate) if args.soak else None
            # Zero-loss accounting: whatever a step's drain window missed may still come.
            final_wait = await drain(world, world.sent, 120)
            arrived = sum(1 for e in world.sent if world.arrival(e) is not None)
            rss_end = process.rss_kb()
            peak = process.peak_kb()
            stop_reading.set()
            await asyncio.gather(*follow, return_exceptions=True)
            exit_code = await process.stop()
            levels = dict(process.levels)
        finally:
            stop_reading.set()
            if echo_process is not None:
                await echo_process.stop()
            if process is not None:
                await process.stop()
            for client in clients:
                await client.close()
            for server in servers:
                await server.stop()
    return {
        "benchmark": "load",
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            # The machine is shared: other processes' load skews every figure below.
            "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
            "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        },
        "coordinator": {
            "how": "a separate `dsx run` process (python -m dsx.cli.main run), bot on homeserver 1",
            "database": "postgresql" if args.database_url else "sqlite",
            "rss_mb": {
                "idle_after_joining_rooms": round((rss_idle or 0) / 1024, 1),
                "end": round((rss_end or 0) / 1024, 1),
                "peak_vmhwm": round((peak or 0) / 1024, 1),
            },
            "exit_code_on_sigterm": exit_code,
            "log_lines_by_level": levels,
        },
        "setup": {
            "partner_rooms": len(rooms),
            "sending_clients": args.senders,
            "readers": "one member client per homeserver, in every room there",
            "providers_per_partner": per_partner,
            "seconds_to_create_and_seed": round(setup_s, 1),
            "seconds_for_bot_to_join_all_rooms": round(join_s, 1),
        },
        "floor_echo_ms": floors,
        "floor_samples": args.floor_samples,
        "floor_warmup": WARMUP,
        "knee_rule": f"first offered rate whose p50 >= {KNEE_FACTOR} x p50 of the lowest rate",
        "step_seconds": round(seconds, 1),
        "min_requests_per_step": MIN_SAMPLES_PER_STEP,
        "phases": phases,
        "echo_phases": echo_phases,
        "knee_ratio": knee_ratios(phases, echo_phases),
        "soak": soak,
        "total": {
            "requests_sent": len(world.sent),
            "proposals_received": arrived,
            "lost": len(world.sent) - arrived,
            "final_wait_seconds": round(final_wait, 1),
        },
        "wall_seconds": round(time.perf_counter() - began, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", default="20,100", help="partner rooms per phase")
    parser.add_argument(
        "--rates", default="1,2,3,4,6,8,12,16,24,32", help="offered requests/s, one per step"
    )
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=None, help="total offered-load time")
    parser.add_argument("--senders", type=int, default=4, help="sending partner clients")
    parser.add_argument("--floor-samples", type=int, default=20)
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database")
    parser.add_argument(
        "--no-echo-knee",
        dest="echo_knee",
        action="store_false",
        help="skip the echo bot's knee (measured first, in the same rooms)",
    )
    parser.add_argument("--soak", type=int, default=0, help="requests for the RSS soak (0: none)")
    parser.add_argument("--soak-rate", type=float, default=3.0, help="soak requests per second")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
