"""What the fault drills share: a coordinator run as a real process (``dsx run``) that can be
SIGKILLed and restarted, a trust network seeded straight through the coordinator core, partner
rooms with real E2EE clients, and the checks that prove nothing was lost or posted twice.

Each drill starts its own homeserver(s) so it can stop them without disturbing the
session-scoped fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from nio import MegolmEvent, RoomMessagesResponse

from coordinator import audit, audit_key
from coordinator.config import Config, DatabaseConfig, MatrixConfig, PartnerConfig, StaffConfig
from coordinator.store.engine import create_engine
from coordinator.store.schema import inbox, outbox, proposals, requests
from coordinator.usecases import Coordinator
from partner_bots.homeserver.synapse import Homeserver, free_port
from tests.harness.notices import rendered
from tests.workflow.harness import PICKLE_KEY, PROPOSAL, REPLY, Member, join_bot

ROOT = Path(__file__).resolve().parents[2]
SKILLS = "phishing"
REGION = "US-CA"
REPLY_SUFFIX = ":reply"


# -- configuration -------------------------------------------------------------------


@dataclass(frozen=True)
class Partner:
    handle: str
    room: str
    member: Member

    @property
    def org(self) -> str:
        return f"org-{self.handle}"


def child_env() -> dict[str, str]:
    """The environment for ``dsx`` children: ``DSX_*`` variables are configuration overrides
    there (and an unknown one stops start-up), so the test run's own are left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSX_")}
    return {**env, "PYTHONPATH": str(ROOT)}


def _toml(values: dict[str, object]) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())


def write_config(
    path: Path,
    *,
    hs: Homeserver,
    data: Path,
    net: Network,
    database_url: str,
    device_id: str = "DSXDRILL",
) -> Config:
    """Write ``dsx.toml`` for ``dsx run`` and return the same settings as a ``Config``."""
    partners, staff_room, staff_members = net.partners, net.staff_room, (net.staff.user_id,)
    text = (
        _toml({"data_dir": str(data), "log_level": "INFO"})
        + "\n[matrix]\n"
        + _toml(
            {
                "homeserver_url": hs.base_url,
                "user_id": net.bot,
                "password": net.password,
                "device_id": device_id,
                "pickle_key": PICKLE_KEY,
                "undecryptable_grace_seconds": 30,
            }
        )
        + "\n[database]\n"
        + _toml({"url": database_url})
        + "\n"
    )
    if staff_room:
        text += "[staff]\n" + _toml({"room": staff_room, "members": list(staff_members)}) + "\n"
    for p in partners:
        text += (
            "[[partners]]\n"
            + _toml({"handle": p.handle, "rooms": [p.room], "members": [p.member.user_id]})
            + "\n"
        )
    path.write_text(text)
    key_file = data / "keys" / audit_key.KEY_FILE  # what `dsx init` makes; `dsx run` needs it
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        audit_key.create(key_file)
    return Config(
        data_dir=str(data),
        matrix=MatrixConfig(
            homeserver_url=hs.base_url,
            user_id=net.bot,
            password=net.password,
            device_id=device_id,
            pickle_key=PICKLE_KEY,
        ),
        database=DatabaseConfig(url=database_url),
        staff=StaffConfig(room=staff_room, members=staff_members),
        partners=tuple(PartnerConfig(p.handle, (p.room,), (p.member.user_id,)) for p in partners),
    )


async def seed_network(config: Config, providers: int = 5, capacity: int = 50) -> list[str]:
    """Providers every partner vouches for, and one accepted organization per partner,
    through the coordinator core on the run's own database (much faster than commands).
    Every partner vouching for every provider keeps each proposal in its own room."""
    core = await Coordinator.open(config)  # migrates and registers the configured partners
    handles = [p.handle for p in config.partners]
    ids = [f"@drill-provider{i}:example.org" for i in range(providers)]
    try:
        for pid in ids:
            await core.add_provider(pid, (SKILLS,), ("en",), (REGION,), capacity)
            for handle in handles:
                await core.vouch(handle, pid)
            assert (await core.vet(pid, handles[0])).eligible
        for handle in handles:
            org = f"org-{handle}"
            await core.add_organization(org, handle, REGION)
            await core.vouch(handle, org)
            assert (await core.vet(org, handle)).eligible
    finally:
        await core.aclose()
    return ids


def request_command(partner: Partner, n: int) -> str:
    # No note: free text is sealed, and the drills run without a sealing key (and web).
    return f"!dsx request {partner.org} skills={SKILLS} langs=en region={REGION}"


# -- the coordinator as a process ----------------------------------------------------


class CoordinatorProcess:
    """``python -m dsx.cli.main run --config FILE``, logs appended to one file."""

    run_args: tuple[str, ...] = ()  # e.g. ("--role", "bot")

    def __init__(self, config: Path, log: Path):
        self.config = config
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0
        self.ready_after: list[float] = []  # seconds from exec to service.ready, per start
        self._offset = 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, ready_timeout: float | None = 120.0) -> None:
        assert not self.running
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        out = self.log.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "dsx.cli.main",
                "run",
                *self.run_args,
                "--config",
                str(self.config),
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=child_env(),
            )
        finally:
            out.close()
        self.starts += 1
        if ready_timeout is not None:
            t0 = time.monotonic()
            await self.wait_log("service.ready", ready_timeout)
            self.ready_after.append(round(time.monotonic() - t0, 1))

    def lines(self) -> list[str]:
        """Log lines of the current process (since its start)."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace").splitlines()

    def all_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def assert_nothing_skipped(self) -> None:
        """The sync loop gives up on an event whose handler failed three times in a row
        (``sync.event_skipped``): in a drill that would be a lost request."""
        skipped = [line for line in self.all_lines() if "sync.event_skipped" in line]
        assert not skipped, skipped[:3]

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.all_lines()[-n:])

    async def wait_log(self, needle: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not any(needle in line for line in self.lines()):
            if not self.running:
                raise AssertionError(f"coordinator exited before {needle!r}:\n{self.tail()}")
            if loop.time() > deadline:
                raise TimeoutError(f"no {needle!r} within {timeout:.0f} s:\n{self.tail()}")
            await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """SIGKILL: no clean-up, as a power cut or the OOM killer would."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.kills += 1

    async def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait; the exit code (SIGKILL if it does not stop in time)."""
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else 0
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            await self.kill()
            raise

    async def ensure_stopped(self) -> None:
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()


async def audit_verify(config: Path) -> str:
    """``dsx audit verify`` as an operator runs it; raises on a broken chain."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dsx.cli.main",
        "audit",
        "verify",
        "--config",
        str(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=child_env(),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "chain intact" in text, text
    return text.strip()


# -- the rooms -----------------------------------------------------------------------


@dataclass
class Network:
    """Partner rooms, each owned by one member client, a staff room, and the bot's account."""

    hs: Homeserver
    bot: str
    password: str
    partners: list[Partner]
    staff: Member
    staff_room: str
    members: list[Member] = field(default_factory=list)

    async def close(self) -> None:
        for m in self.members:
            with contextlib.suppress(Exception):
                await m.close()


async def make_network(
    hs: Homeserver,
    root: Path,
    rooms: int,
    member_homeservers: list[Homeserver] | None = None,
) -> Network:
    """``rooms`` partner rooms (``partner{i}``), each created by its own member; member i
    lives on ``member_homeservers[i % len]`` (default: ``hs``). The bot is on ``hs``."""
    password = secrets.token_urlsafe(12)
    bot = (await hs.register(f"dsxdrill-{secrets.token_hex(3)}", password)).user_id
    homes = member_homeservers or [hs]
    members = await asyncio.gather(
        *(Member.create(homes[i % len(homes)], root / "clients", f"p{i}") for i in range(rooms)),
        Member.create(hs, root / "clients", "staff"),
    )
    staff = members[-1]
    partners: list[Partner] = []
    for i, m in enumerate(members[:-1]):
        room = await m.create_encrypted_room(invite=[])
        partners.append(Partner(f"partner{i}", room, m))
    staff_room = await staff.create_encrypted_room(invite=[])
    return Network(hs, bot, password, partners, staff, staff_room, list(members))


async def bot_joins(net: Network, timeout: float = 120.0) -> None:
    """Invite the bot to every room (partners' and staff) and wait until it is in."""
    owners = [(p.member, p.room) for p in net.partners] + [(net.staff, net.staff_room)]
    await asyncio.gather(*(join_bot(m, room, net.bot, timeout) for m, room in owners))


# -- waiting on the database ---------------------------------------------------------


class Ledger:
    """Read-only views of the run's database, for waiting and for the final checks."""

    def __init__(self, url: str):
        self.engine = create_engine(url)

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def scalar(self, query: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one()

    async def requests(self) -> int:
        return await self.scalar(sa.select(sa.func.count()).select_from(requests))

    async def proposals(self) -> int:
        return await self.scalar(sa.select(sa.func.count()).select_from(proposals))

    async def replies(self) -> int:
        return await self.scalar(
            sa.select(sa.func.count())
            .select_from(inbox)
            .where(inbox.c.event_id.like(f"%{REPLY_SUFFIX}"))
        )

    async def unsent(self) -> int:
        return await self.scalar(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.state != "sent")
        )

    async def sent(self) -> int:
        return await self.scalar(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.state == "sent")
        )

    async def outbox_rows(self) -> list[Any]:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(outbox).order_by(outbox.c.seq))).all()

    async def summary(self) -> str:
        async with self.engine.connect() as conn:
            states = (
                await conn.execute(
                    sa.select(outbox.c.state, outbox.c.error_code, sa.func.count()).group_by(
                        outbox.c.state, outbox.c.error_code
                    )
                )
            ).all()
        return (
            f"requests={await self.requests()} replies={await self.replies()} "
            f"outbox={[tuple(r) for r in states]}"
        )

    async def audit_broken(self, key: audit.AuditKey) -> Any:
        return await audit.verify(self.engine, key)


async def until(
    condition: Callable[[], Awaitable[bool]],
    what: str,
    timeout: float,
    alive: Callable[[], None] | None = None,
    period: float = 0.25,
    describe: Callable[[], Awaitable[str]] | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if alive is not None:
            alive()
        if loop.time() > deadline:
            state = await describe() if describe is not None else ""
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} {state}")
        await asyncio.sleep(period)


# -- reading the rooms back ----------------------------------------------------------


async def room_history(
    member: Member, room: str, sender: str, timeout: float = 60.0, expect: int = 0
) -> list[dict[str, Any]]:
    """Every (non-state) event ``sender`` posted in ``room``, oldest first, decrypted, read via
    ``/messages`` (a sync window would show only the latest). Raises if some stay
    undecryptable after ``timeout`` of syncing for their keys. With ``expect``, reads again
    until that many arrived (over federation they may trail) or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await member.sync()
        events: list[dict[str, Any]] = []
        undecryptable = 0
        start = member.client.next_batch
        while True:
            resp = await member.client.room_messages(room, start=start, limit=100)
            if not isinstance(resp, RoomMessagesResponse):
                raise RuntimeError(f"/messages failed: {resp}")
            for event in resp.chunk:
                if getattr(event, "sender", None) != sender:
                    continue
                if isinstance(event, MegolmEvent):
                    try:
                        event = member.client.decrypt_event(event)
                    except Exception:
                        undecryptable += 1
                        continue
                    if isinstance(event, MegolmEvent):
                        undecryptable += 1
                        continue
                if "state_key" not in event.source:  # messages, not our joins
                    events.append(event.source)
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        if not undecryptable and (len(events) >= expect or loop.time() > deadline):
            events.reverse()
            return events
        if loop.time() > deadline:
            raise AssertionError(f"{undecryptable} event(s) of {sender} stay undecryptable")
        await member.sync(timeout_ms=1000)


def proposals_by_thread(events: list[dict[str, Any]]) -> Counter[str]:
    """Proposal posts (not their edits) per thread root (the request command's event)."""
    found: Counter[str] = Counter()
    for s in events:
        content = s.get("content", {})
        if PROPOSAL in content and "m.new_content" not in content:
            found[(content.get("m.relates_to") or {}).get("event_id", "")] += 1
    return found


def replies_by_command(events: list[dict[str, Any]]) -> Counter[str]:
    found: Counter[str] = Counter()
    for s in events:
        content = s.get("content", {})
        rel = content.get("m.relates_to") or {}
        if REPLY in content:
            found[(rel.get("m.in_reply_to") or {}).get("event_id", "")] += 1
    return found


def duplicated_contents(events: list[dict[str, Any]]) -> list[str]:
    """Bodies posted more than once (every message of ours names a unique id)."""
    counts = Counter(
        json.dumps(s.get("content", {}), sort_keys=True)
        for s in events
        if s.get("type") == "m.room.message"
    )
    return [c[:120] for c, n in counts.items() if n > 1]


STAFF = "org.dsx.staff"


def event_ids_by_room(
    rows: list[Any], aliases: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """Each room's outbox rows as the event ids they became, in outbox order. ``aliases``
    maps an address delivery resolves (``partner:<handle>``, for messages filed outside a
    room) to the room it reaches: in the drills each partner has exactly one room."""
    by_room: dict[str, list[str]] = {}
    for r in rows:
        room = (aliases or {}).get(r.room, r.room)
        by_room.setdefault(room, []).append(r.event_id)
    return by_room


def assert_answered_once(
    events: list[dict[str, Any]], sent: list[str], posted: list[str], who: str
) -> None:
    """In one room: every command got exactly one proposal (in its thread) and one reply,
    nothing was posted twice, and the timeline is the outbox's order, row for row."""
    props, replies = proposals_by_thread(events), replies_by_command(events)
    assert {c: props[c] for c in sent} == dict.fromkeys(sent, 1), who
    assert {c: replies[c] for c in sent} == dict.fromkeys(sent, 1), who
    assert not duplicated_contents(events), who
    assert [s["event_id"] for s in events] == posted, who


def staff_kinds(rows: list[Any]) -> list[str]:
    """The trouble/recovery notices among outbox rows, in order."""
    kinds = [rendered(r).get(STAFF, {}).get("kind") for r in rows]
    return [k for k in kinds if k in ("trouble", "recovered")]


def check_outbox(rows: list[Any]) -> dict[str, int]:
    """Every row sent, each to its own event: the transaction ids did their job."""
    unsent = [r.id for r in rows if r.state != "sent"]
    assert not unsent, f"{len(unsent)} outbox row(s) not sent: {[r.state for r in rows][:5]}"
    ids = Counter(r.event_id for r in rows)
    doubled = [e for e, n in ids.items() if n > 1]
    assert not doubled, f"outbox rows share an event: {doubled[:3]}"
    return {"outbox_rows": len(rows), "max_attempts": max((r.attempts for r in rows), default=0)}


def jitter(low: float, high: float, rng: random.Random) -> float:
    return rng.uniform(low, high)


def elapsed_since(start: float) -> float:
    return round(time.monotonic() - start, 1)


# -- a private PostgreSQL ------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster of our own (initdb in a temp dir, a free loopback
    port), so a drill may restart or crash it without touching the machine's shared server.
    As root, the server runs as the ``postgres`` user (initdb refuses root)."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="dsx-drill-pg-"))
        self.data = self.root / "data"
        self.restarts = 0

    @staticmethod
    def available() -> str | None:
        """None when a cluster can be made here, else why not."""
        if _pg_bin() is None:
            return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            return "running as root without runuser to drop to the postgres user"
        return None

    def _argv(self, *argv: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return list(argv)

    async def _run(self, *argv: str, timeout: float = 60.0) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._argv(*argv),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {out.decode(errors='replace')}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def sqlalchemy_url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def init(self) -> None:
        assert self.bin is not None
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        await self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync",
        )  # fmt: skip

    async def start(self) -> None:
        assert self.bin is not None
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=50"
        )
        await self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown; ``immediate``: as a crash (recovery on next start)."""
        assert self.bin is not None
        await self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"
        )  # fmt: skip

    async def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    async def restart(self, mode: str = "fast", down_for: float = 0.0) -> None:
        await self.stop(mode)
        if down_for:
            await asyncio.sleep(down_for)
        await self.start()
        self.restarts += 1

    async def create_database(self, name: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def destroy(self) -> None:
        """Stop (if running) and delete everything; never raises."""
        with contextlib.suppress(Exception):
            if await self.running():
                await self.stop("immediate")
        await asyncio.to_thread(shutil.rmtree, self.root, True)
