"""Orchestration of `dsx up`: start everything, play the scenario, stop everything.

Every process and task it starts is stopped in ``finally``, on success, on error and on
Ctrl-C, so a demo never leaves a homeserver running behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from coordinator import logs
from coordinator.config import Config
from dsx.demo.network import DemoOrganization, DemoProvider, Seeded, seed
from dsx.demo.scenario import play
from dsx.demo.stack import PROVIDERS, Stack, build, start_servers, write_config
from dsx.demo.transcript import Milestone, Transcript
from partner_bots.homeserver.synapse import Homeserver

if TYPE_CHECKING:  # imported when serving starts: the demo's first lines come sooner
    from dsx.service import Running

Task = asyncio.Task[None]


def demo_organization() -> DemoOrganization:
    return DemoOrganization(
        "eastside-tenants",
        "riverside",
        "US-CA",
        "Eastside Tenants Union (demo)",
        "organizer@eastside.example",
    )


def demo_providers(stack: Stack, first_member: str) -> tuple[DemoProvider, ...]:
    """Priya is vouched for by an Advogato member; Tomás (second server) by a partner."""
    priya, tomas = (stack.providers[p.localpart].user_id for p in PROVIDERS)
    return (
        DemoProvider(priya, ("phishing", "devices"), ("en", "es"), "US-CA", first_member),
        DemoProvider(tomas, ("forensics",), ("en", "pt"), "US-CA", "delta"),
    )


async def run(root: Path, exit_after_scenario: bool, out: TextIO = sys.stdout) -> int:
    t = Transcript(out)
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    servers: list[Homeserver] = []
    stack: Stack | None = None
    stop = asyncio.Event()
    serve_task: Task | None = None
    work: asyncio.Task[bool] | None = None
    try:
        t.line(f"dsx up: a local demo in {root} (loopback only)")

        async def scenario() -> bool:
            nonlocal stack, serve_task
            await start_servers(root / "homeservers", servers)
            t.milestone(Milestone.HOMESERVERS, ", ".join(f"{s.server_name}" for s in servers))
            stack = await build(root, servers)
            t.milestone(Milestone.ROOMS, f"{len(stack.logins)} accounts, 4 rooms")
            config = write_config(stack)
            seeded = await _seed(stack, config)
            t.milestone(
                Milestone.TRUST,
                f"{seeded.imported_members} Advogato members, {seeded.imported_vouches} vouches",
            )
            ready = asyncio.Event()
            box: list[Running] = []
            serve_task = _start_serve(config, stop, ready, box)
            await _until_ready(serve_task, ready)
            running = box[0]
            ready_in = t.elapsed()
            t.milestone(Milestone.COORDINATOR, f"stack ready in {ready_in:.1f} s")
            stack.web_url = running.web_url or ""
            t.line(f"    dashboard: {stack.web_url}")
            await play(stack, demo_organization(), running.coordinator.engine, t)
            return t.complete

        work = asyncio.ensure_future(scenario())
        waiter = asyncio.ensure_future(interrupted.wait())
        await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not work.done():
            t.line("dsx up: interrupted; stopping")
            return 130
        ok = work.result()
        t.line(
            f"dsx up: scenario {'complete' if ok else 'INCOMPLETE'}: "
            f"{len(t.reached)}/{len(Milestone)} milestones"
        )
        if exit_after_scenario or not ok:
            return 0 if ok else 1
        assert stack is not None
        _print_access(stack, t)
        await interrupted.wait()
        t.line("dsx up: stopping")
        return 0
    except Exception as exc:
        t.line(f"dsx up: FAILED after {len(t.reached)} milestones: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if work is not None:
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
        stop.set()
        if serve_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(serve_task, 60)
        if stack is not None:
            await stack.close_actors()
        await asyncio.gather(*(s.stop() for s in servers), return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        t.line("dsx up: every process it started is stopped")


async def _seed(stack: Stack, config: Config) -> Seeded:
    from dsx.demo.network import load_slice, member_id

    server_name = stack.servers[0].server_name
    first = member_id(load_slice().members[0], server_name)
    return await seed(config, server_name, demo_providers(stack, first), (demo_organization(),))


def _start_serve(
    config: Config, stop: asyncio.Event, ready: asyncio.Event, box: list[Running]
) -> Task:
    from dsx.service import serve

    return asyncio.create_task(
        serve(config, stop=stop, ready=ready, on_ready=box.append), name="serve"
    )


async def _until_ready(task: Task, ready: asyncio.Event, timeout: float = 120.0) -> None:
    waiter = asyncio.ensure_future(ready.wait())
    try:
        done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when="FIRST_COMPLETED")
    finally:
        waiter.cancel()
    if task in done:
        task.result()  # raises what went wrong
        raise RuntimeError("the coordinator stopped before it was ready")
    if waiter not in done:
        raise TimeoutError(f"the coordinator did not become ready within {timeout:.0f} s")


def _print_access(stack: Stack, t: Transcript) -> None:
    t.line("")
    t.line("The demo keeps running; join it with Element (or any Matrix client):")
    t.line(
        f"  dashboard: {stack.web_url}  (Sam sends `!dsx login` in the staff room; "
        "the link comes in a direct room)"
    )
    for i, hs in enumerate(stack.servers, 1):
        t.line(f"  homeserver {i}: {hs.base_url}  (server name {hs.server_name})")
    t.line(f"  configuration: {stack.config_path}  (try `dsx doctor --config {stack.config_path}`)")
    t.line("  logins (demo only, random per run):")
    for login in stack.logins:
        t.line(f"    {login.label:<18} {login.user_id:<32} {login.password}  on {login.homeserver}")
    t.line("In Element, choose the homeserver URL as a custom server, then sign in.")
    t.line("Press Ctrl-C to stop.")


def main(root: Path, exit_after_scenario: bool) -> int:
    logs.setup("WARNING")
    # nio warns about every key that arrives after its message; the transcript says what matters.
    logging.getLogger("nio").setLevel(logging.ERROR)
    started = time.monotonic()
    code = asyncio.run(run(root, exit_after_scenario))
    print(f"dsx up: exit {code} after {time.monotonic() - started:.1f} s", flush=True)
    return code
