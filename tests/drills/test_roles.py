"""Two roles, two processes, one database: the keys live apart (docs/operator.md, "Two
roles").

``dsx run --role bot`` and ``dsx run --role web`` run as real processes on one real
PostgreSQL database and a real Synapse, from one configuration file that names every
secret (the bot's password, the pickle key, the private key file). The web process,
under ``strace -f``, serves the public request form; the submission reaches the
database; the bot process delivers its details, opened with the private key, into the
partner's encrypted room. A staff member's ``!dsx login`` is answered by the bot
process and the link opens the dashboard on the web process. Every file the web
process (and its children) opened is read from strace's log: the private key file and
the crypto store are never among them, while the public key is (the trace does see
opens). The web role names what it ignored, and each role's ``/readyz`` answers for
its own job.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from coordinator.forms import REQUEST_FORM
from coordinator.sealing import write_keypair
from tests.conftest import POSTGRES_URL
from tests.drills.harness import (
    ROOT,
    CoordinatorProcess,
    bot_joins,
    child_env,
    make_network,
    write_config,
)
from tests.harness.components import require
from tests.harness.postgres import PostgresServer
from tests.web.conftest import CSRF_RE
from tests.web.forms_data import CANARY, full_form
from tests.web.proxies import free_port
from tests.web.test_login_direct import _invited_direct, _link_in, _record_invites
from tests.workflow.harness import REPLY

pytestmark = [pytest.mark.synapse, pytest.mark.drill]

DETAILS = "org.dsx.intake_details"
STRACE = shutil.which("strace")
# One line of `strace -f -e trace=open,openat,openat2`: the path is the first quoted string.
OPENED = re.compile(r'open(?:at2?)?\((?:[A-Z_]+|-?\d+), "((?:[^"\\]|\\.)*)"')


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


class TracedWeb(CoordinatorProcess):
    """``dsx run --role web`` under ``strace -f``: every open of it and its children."""

    def __init__(self, config: Path, log: Path, trace: Path):
        super().__init__(config, log)
        self.trace = trace

    async def start(self, ready_timeout: float | None = 120.0) -> None:
        assert STRACE is not None
        out = self.log.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                STRACE,
                "-f",
                "-qq",
                "-s",
                "4096",
                "-e",
                "trace=open,openat,openat2",
                "-o",
                str(self.trace),
                sys.executable,
                "-m",
                "dsx.cli.main",
                "run",
                "--role",
                "web",
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
        await self.wait_log("service.ready", ready_timeout or 120.0)

    async def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM to the traced ``dsx`` (strace would detach on its own); strace exits
        with its exit code."""
        assert self.proc is not None
        pid = self.proc.pid
        children = await asyncio.to_thread(_children, pid)
        assert len(children) == 1, children
        os.kill(int(children[0]), signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def opened(self) -> set[str]:
        return {m.group(1) for m in OPENED.finditer(self.trace.read_text(errors="replace"))}


class BotProcess(CoordinatorProcess):
    """``dsx run --role bot``."""

    run_args = ("--role", "bot")


async def _ready(http: aiohttp.ClientSession, url: str) -> dict:
    body: dict = {}
    for _ in range(240):
        async with http.get(url) as resp:
            body = await resp.json()
            if resp.status == 200:
                return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"{url} never ready: {body}")


async def test_web_and_bot_roles_in_two_processes_keep_the_keys_apart(homeserver, tmp_path):
    require(STRACE is not None, "strace is not installed (apt-get install -y strace)")
    server = PostgresServer(POSTGRES_URL)
    problem = await server.probe()
    require(problem is None, f"PostgreSQL at {POSTGRES_URL}: {problem}")
    db_name = f"dsx_roles_{secrets.token_hex(4)}"
    await server.create_database(db_name)
    net = await make_network(homeserver, tmp_path, rooms=1)
    partner = net.partners[0]
    data = tmp_path / "data"
    public, private = write_keypair(data / "keys", private_path=data / "private" / "sealing.key")
    web_port, metrics_port = free_port(), free_port()
    config = tmp_path / "dsx.toml"
    write_config(
        config, hs=homeserver, data=data, net=net, database_url=server.sqlalchemy_url(db_name)
    )
    # One file for both roles, naming every secret: the web role must ignore them.
    config.write_text(
        config.read_text()
        + f'[sealing]\npublic_key_file = "{public}"\nprivate_key_file = "{private}"\n'
        + f'[web]\nport = {web_port}\npublic_url = "http://127.0.0.1:{web_port}"\n'
        + f"[metrics]\nport = {metrics_port}\n"
    )
    bot = BotProcess(config, tmp_path / "bot.log")
    web = TracedWeb(config, tmp_path / "web.log", tmp_path / "web.trace")
    try:
        await bot.start()
        await bot_joins(net)
        await web.start()
        ignored = [line for line in web.lines() if "role.web_ignored" in line]
        assert len(ignored) == 1, web.tail()
        for key in ("matrix.password", "matrix.pickle_key", "sealing.private_key_file"):
            assert key in ignored[0], ignored
        assert net.password not in web.log.read_text()

        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            base = f"http://127.0.0.1:{web_port}"
            # Each role answers for its own job: the web role for the database alone.
            web_ready = await _ready(http, f"{base}/readyz")
            assert web_ready["role"] == "web"
            assert [c["name"] for c in web_ready["checks"]] == ["database"]
            bot_ready = await _ready(http, f"http://127.0.0.1:{metrics_port}/readyz")
            assert bot_ready["role"] == "bot"
            names = [c["name"] for c in bot_ready["checks"]]
            assert names == ["database", "outbox", "sync account 0"], names
            async with http.get(f"http://127.0.0.1:{metrics_port}/healthz") as alive:
                assert alive.status == 200 and (await alive.json())["alive"] is True

            # The public form, on the web process.
            async with http.get(f"{base}/request") as page:
                assert page.status == 200
                csrf = CSRF_RE.search(await page.text())
            assert csrf is not None
            need = f"{CANARY} our site was defaced"
            pairs = full_form(REQUEST_FORM, need=need)
            async with http.post(
                f"{base}/request", data=[("csrf_token", csrf.group(1)), *pairs]
            ) as resp:
                text = await resp.text()
                assert resp.status == 200, text
            start = text.index('id="case-ref">') + len('id="case-ref">')
            reference = text[start : text.index("<", start)]

            # Delivered by the other process, opened there with the private key.
            details = await partner.member.wait_event(
                partner.room,
                net.bot,
                lambda e: e.get("content", {}).get(DETAILS, {}).get("reference") == reference,
                timeout=90,
                what="the intake details, delivered by the bot role",
            )
            assert need in details["content"]["body"]

            async with http.get(f"{base}/dashboard", allow_redirects=False) as before:
                assert before.status == 401, before.status  # signed out
            # !dsx login: the bot process mints the link; the web process redeems it.
            invites = _record_invites(net.staff)
            answer = await net.staff.ask(net.staff_room, net.bot, "!dsx login", timeout=90)
            assert answer[REPLY]["ok"], answer
            direct = await _invited_direct(net.staff, net.bot, invites, {net.staff_room})
            link, token = await _link_in(net.staff, direct, net.bot, set())
            assert link.startswith(base), link
            async with http.get(link) as page:
                assert page.status == 200
                csrf = CSRF_RE.search(await page.text())
            assert csrf is not None
            async with http.post(
                f"{base}/login",
                data={"csrf_token": csrf.group(1), "token": token},
                allow_redirects=False,
            ) as signed:
                assert signed.status == 303, await signed.text()
            async with http.get(f"{base}/dashboard", allow_redirects=False) as dashboard:
                assert dashboard.status == 200
            # Changed identities live in the bot's device list: not on the web role.
            async with http.get(f"{base}/dashboard/identities") as identities:
                assert identities.status == 200
                assert "No identity change is waiting." in await identities.text()

        assert await web.stop() == 0, web.tail()
        assert await bot.stop() == 0, bot.tail()
        opened = web.opened()
        assert str(public) in opened, sorted(opened)[:50]  # the trace sees the web's opens
        store = str(data / "nio-store")
        assert not [p for p in opened if p == str(private) or "sealing.key" in p], opened
        assert not [p for p in opened if p.startswith(store)], opened
        assert not [p for p in opened if p.startswith(str(data / "private"))], opened
        # ... while the bot role did open it: the same configuration names it.
        assert "intake.details_refused" not in bot.log.read_text()
        assert json.dumps(CANARY) not in web.log.read_text() + bot.log.read_text()
    finally:
        for proc in (web, bot):
            if proc.running:
                assert proc.proc is not None
                proc.proc.send_signal(signal.SIGKILL)
                await proc.proc.wait()
        await net.close()
        await server.drop_database(db_name)
