"""The operator drill: docs/operator.md followed on this machine, from a fresh host to a
partner's request answered through the shipped nginx example.

What is exercised, for real: the guide's shell blocks marked ``<!-- drill: ... -->`` run
as written by bash as root (``useradd --system`` for ``dsx`` and ``dsx-web``, the folders
with their owners and modes, ``dsx init --owner dsx --web-user dsx-web``, the secrets
files), then ``dsx config check``, ``dsx migrate`` and ``dsx doctor`` as the ``dsx`` user
with that file's environment; both roles are started from ``deploy/systemd/dsx-bot.service``
and ``dsx-web.service`` by a small supervisor that applies each unit's ``User=``,
``Group=``, ``SupplementaryGroups=``, ``EnvironmentFile=``,
``StateDirectory=``/``StateDirectoryMode=``, ``UMask=``, ``ExecStartPre=`` and
``ExecStart=``; a real Synapse, the real PostgreSQL (a role with a password and a
database of its own), the shipped nginx example with TLS in front of the web role,
``/readyz`` through it, a partner member's E2EE ``!dsx help`` answered by the bot role,
and the web role's user unable to read the private key or the crypto store (asked of
the kernel).

What is not: ``/etc``, ``/var/lib`` and ``/opt`` are moved under a temporary folder; the
virtualenv is a real ``python3 -m venv`` of the system Python, but it borrows the test
environment's installed packages (a ``.pth`` file) instead of ``pip install`` (minutes on
this machine), and its ``dsx`` script is written here the way pip writes console scripts;
systemd's sandboxing (``ProtectSystem=``, ``NoNewPrivileges=`` ...) is not applied.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import re
import secrets
import shutil
import signal
import site
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.conftest import POSTGRES_URL
from tests.drills.harness import bot_joins, make_network
from tests.harness.components import require
from tests.web.proxies import free_port
from tests.web.test_proxy_nginx import HAVE_NGINX, nginx_in_front

pytestmark = [pytest.mark.synapse, pytest.mark.drill]

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operator.md"
BOT_UNIT = ROOT / "deploy" / "systemd" / "dsx-bot.service"
WEB_UNIT = ROOT / "deploy" / "systemd" / "dsx-web.service"
SYSTEM_PYTHON = Path("/usr/bin/python3")
HAVE_SYSTEM_PYTHON = SYSTEM_PYTHON.exists()
BLOCK = re.compile(r"<!-- drill: ([a-z ]+) -->\s*```sh\n(.*?)```", re.S)


def guide_blocks() -> list[tuple[str, list[str]]]:
    """The marked shell blocks of the guide, in order: (who runs it, its lines)."""
    found = [
        (who, [line.strip() for line in body.splitlines() if line.strip()])
        for who, body in BLOCK.findall(GUIDE.read_text())
    ]
    assert [who for who, _ in found] == ["as root", "as root", "as the service user"], found
    return found


class Host:
    """Where /etc, /var/lib and /opt live for this drill, and the names it substitutes."""

    def __init__(self, prefix: Path, names: dict[str, str]):
        self.prefix = prefix
        self.names = names

    def path(self, absolute: str) -> Path:
        return self.prefix / absolute.lstrip("/")

    def rewrite(self, text: str) -> str:
        for real in ("/etc/dsx", "/var/lib/dsx", "/opt/dsx"):
            text = text.replace(real, str(self.path(real)))
        for example, mine in self.names.items():
            text = text.replace(example, mine)
        return text

    def bash(self, script: str) -> subprocess.CompletedProcess:
        script = self.rewrite(script)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        return subprocess.run(
            ["bash", "-ec", script], capture_output=True, text=True, timeout=120, env=env
        )


def install_venv(host: Host) -> None:
    """``python3 -m venv`` for real; the packages lent from the test environment."""
    venv = host.path("/opt/dsx/.venv")
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    packages = [p for p in site.getsitepackages() if p.endswith("site-packages")]
    (venv / "lib" / ver / "site-packages" / "dsx-drill.pth").write_text(
        "\n".join([str(ROOT), *packages]) + "\n"
    )
    script = venv / "bin" / "dsx"  # what pip writes for [project.scripts] dsx
    script.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom dsx.cli.main import main\n"
        "sys.exit(main())\n"
    )
    script.chmod(0o755)


def read_unit(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


class Supervisor:
    """The shipped unit's settings applied to its commands, as systemd would start them."""

    def __init__(self, host: Host, unit: Path):
        self.host = host
        self.unit = read_unit(unit)
        self.proc: asyncio.subprocess.Process | None = None

    def _settings(self) -> tuple[pwd.struct_passwd, dict[str, str], list[int], int]:
        (user,), (group,) = self.unit["User"], self.unit["Group"]
        entry = pwd.getpwnam(user)
        assert entry.pw_gid == grp.getgrnam(group).gr_gid
        extra = [
            grp.getgrnam(name).gr_gid
            for value in self.unit.get("SupplementaryGroups", [])
            for name in value.split()
        ]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": entry.pw_dir,
            "USER": user,
            "LOGNAME": user,
        }
        for value in self.unit.get("EnvironmentFile", []):
            path = Path(self.host.rewrite(value.lstrip("-")))
            if not path.exists() and value.startswith("-"):
                continue
            for line in path.read_text().splitlines():  # read as root, like systemd
                if line.strip() and not line.startswith("#"):
                    key, val = line.split("=", 1)
                    env[key.strip()] = val.strip()
        for state in self.unit.get("StateDirectory", []):  # the bot's; the web unit has none
            state_dir = self.host.path(f"/var/lib/{state}")
            state_dir.mkdir(parents=True, exist_ok=True)
            os.chown(state_dir, entry.pw_uid, entry.pw_gid)
            state_dir.chmod(int(self.unit["StateDirectoryMode"][0], 8))
            env["STATE_DIRECTORY"] = str(state_dir)
        return entry, env, extra, int(self.unit["UMask"][0], 8)

    async def _exec(self, command: str, **kw) -> asyncio.subprocess.Process:
        entry, env, extra, umask = self._settings()
        argv = self.host.rewrite(command).split()
        return await asyncio.create_subprocess_exec(
            *argv,
            user=entry.pw_uid,
            group=entry.pw_gid,
            extra_groups=extra,
            umask=umask,
            env=env,
            cwd="/",  # the unit sets no WorkingDirectory=: systemd starts in /
            stdin=asyncio.subprocess.DEVNULL,
            **kw,
        )

    async def start(self, log: Path) -> None:
        for pre in self.unit.get("ExecStartPre", []):
            proc = await self._exec(
                pre, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, out.decode()
        (start,) = self.unit["ExecStart"]
        with log.open("ab") as out:
            self.proc = await self._exec(start, stdout=out, stderr=out)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(getattr(signal, self.unit["KillSignal"][0]))
            timeout = float(self.unit["TimeoutStopSec"][0])
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


async def make_database(name: str, password: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        await conn.execute(f'CREATE DATABASE "{name}" OWNER {name}')
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f"DROP ROLE IF EXISTS {name}")
    finally:
        await conn.close()


def edit_config(
    path: Path, *, staff_room: str, partner: str, room: str, member: str, port: int
) -> None:
    """What the operator types into dsx.toml after `dsx init` (guide, Configure step 1)."""
    text = path.read_text()
    text = text.replace('room = ""  ', f'room = "{staff_room}"  ', 1)
    text = text.replace("port = 8080", f"port = {port}")
    text = text.replace(
        'public_url = "http://127.0.0.1:8080"',
        'public_url = "https://dsx.example.org"\ntrust_proxy = true',
    )
    text += (
        f'\n[[partners]]\nhandle = "{partner}"\nrooms = ["{room}"]\n'
        f'members = ["{member}"]\n\n[emergency]\nsignal = "+1 555 0100"\n'
    )
    path.write_text(text)


async def test_the_operator_guide_on_a_fresh_host(own_homeserver, tmp_path: Path):
    require(os.geteuid() == 0, "the operator drill creates a system user: run it as root")
    require(HAVE_NGINX, "Debian nginx is not installed (deploy/setup-test-deps.sh)")
    require(HAVE_SYSTEM_PYTHON, "no system python3 for the service's virtualenv")
    hs = own_homeserver
    net = await make_network(hs, tmp_path, rooms=1)
    partner = net.partners[0]
    db_name, db_password = f"dsx_drill_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    await make_database(db_name, db_password)
    # A folder every user can traverse, like / (pytest's own tmp folder is root-only).
    prefix = Path(tempfile.mkdtemp(prefix="dsx-operator-"))
    os.chmod(prefix, 0o755)
    host = Host(
        prefix,
        {
            "https://matrix.example.org": hs.base_url,
            "@dsx:example.org": net.bot,
            "@you:example.org": net.staff.user_id,
        },
    )
    bot_service, web_service = Supervisor(host, BOT_UNIT), Supervisor(host, WEB_UNIT)
    try:
        (_, first), (_, second), (_, checks) = guide_blocks()
        for folder in ("/etc", "/var/lib", "/opt/dsx"):
            host.path(folder).mkdir(parents=True, exist_ok=True)
        for line in first:
            if line.startswith("useradd") and _user_exists(line.split()[-1]):
                continue  # an earlier drill on this host made it
            done = await asyncio.to_thread(host.bash, line)
            assert done.returncode == 0, (line, done.stderr)
        install_venv(host)
        for line in second:
            done = await asyncio.to_thread(host.bash, line)
            assert done.returncode == 0, (line, done.stderr)
            if " init " in line:
                assert "dsx migrate" in done.stdout and "dsx doctor" in done.stdout
        dsx = pwd.getpwnam("dsx")
        config = host.path("/etc/dsx/dsx.toml")
        assert config.stat().st_uid == dsx.pw_uid and (config.stat().st_mode & 0o777) == 0o640
        assert config.stat().st_gid == grp.getgrnam("dsx").gr_gid
        for secrets_file in ("dsx.env", "web.env"):
            assert host.path(f"/etc/dsx/{secrets_file}").stat().st_mode & 0o777 == 0o600
        database_url = (
            f"DSX_DATABASE_URL=postgresql+asyncpg://{db_name}:{db_password}"
            f"@127.0.0.1:5432/{db_name}\n"
        )
        host.path("/etc/dsx/dsx.env").write_text(
            f"DSX_MATRIX_PASSWORD={net.password}\n{database_url}"
        )
        host.path("/etc/dsx/web.env").write_text(database_url)  # the web role's only secret
        app_port = free_port()
        edit_config(
            config,
            staff_room=net.staff_room,
            partner=partner.handle,
            room=partner.room,
            member=partner.member.user_id,
            port=app_port,
        )

        service_env, *as_service = checks  # the first line reads the secrets file

        async def as_dsx(line: str) -> subprocess.CompletedProcess:
            return await asyncio.to_thread(host.bash, f"{service_env}\n{line}")

        results = {line.split()[5]: await as_dsx(line) for line in as_service}
        check, migrate, doctor = results["config"], results["migrate"], results["doctor"]
        assert check.returncode == 0, check.stderr
        assert db_password not in check.stdout + check.stderr
        assert migrate.returncode == 0, migrate.stderr
        failed = [line for line in doctor.stdout.splitlines() if line.startswith("✗")]
        assert [f.split(":")[0] for f in failed] == ["✗ cross-signing"], doctor.stdout
        # The guide's steps leave nothing to warn about either.
        assert "✓ settings: the configuration fits together" in doctor.stdout, doctor.stdout
        assert "warning" not in check.stderr, check.stderr

        # The web role's user cannot read the private key; it reads what it needs.
        for path, readable in (
            ("/var/lib/dsx/private/sealing.key", False),
            ("/var/lib/dsx/keys/sealing.pub", True),
            ("/var/lib/dsx/keys/audit.key", True),
            ("/etc/dsx/dsx.toml", True),
        ):
            assert host.path(path).is_file(), path
            done = await asyncio.to_thread(
                host.bash, f"runuser -u dsx-web -- head -c 1 {path} > /dev/null"
            )
            assert (done.returncode == 0) == readable, (path, done.stderr)
            if not readable:
                assert "Permission denied" in done.stderr, done.stderr
        store_listing = "runuser -u dsx-web -- ls /var/lib/dsx/nio-store"
        store = await asyncio.to_thread(host.bash, store_listing)
        assert store.returncode != 0 and "Permission denied" in store.stderr, store.stderr

        log, web_log = tmp_path / "bot.log", tmp_path / "web.log"
        await bot_service.start(log)
        await web_service.start(web_log)
        prefix_nginx = tmp_path / "nginx"
        prefix_nginx.mkdir()
        async with nginx_in_front(app_port, prefix_nginx) as (https_port, _http, cert):
            await bot_joins(net)
            reply = await partner.member.ask(partner.room, net.bot, "!dsx help", timeout=90)
            assert "request" in reply["body"], reply
            context = ssl.create_default_context(cafile=str(cert))
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as web:
                for _ in range(120):
                    resp = await web.get(f"https://127.0.0.1:{https_port}/readyz")
                    if resp.status == 200:
                        break
                    await asyncio.sleep(0.5)
                assert resp.status == 200, await resp.text()
        again = await as_dsx(as_service[-1])
        assert again.returncode == 0, again.stdout
        assert bot_service.proc is not None and bot_service.proc.returncode is None, log.read_text()
        assert web_service.proc is not None and web_service.proc.returncode is None, (
            web_log.read_text()
        )
        # The web role got none of the bot's secrets, and said what it ignored in the file.
        environ = await asyncio.to_thread(Path(f"/proc/{web_service.proc.pid}/environ").read_bytes)
        assert b"DSX_MATRIX_PASSWORD" not in environ and b"DSX_DATABASE_URL" in environ
        ignored = [line for line in web_log.read_text().splitlines() if "role.web_ignored" in line]
        assert ignored and "matrix.pickle_key" in ignored[0], web_log.read_text()[-2000:]
        assert "sealing.private_key_file" in ignored[0]
        assert await web_service.stop() == 0, web_log.read_text()[-3000:]
        assert await bot_service.stop() == 0, log.read_text()[-3000:]
        state = host.path("/var/lib/dsx")
        for item in state.rglob("*"):  # UMask=0077 and --owner: nothing for anyone else
            assert item.stat().st_uid == dsx.pw_uid, item
            if item.name != "sealing.pub":  # public by design (0644), in a 0700 folder
                assert not item.stat().st_mode & 0o007, item
    finally:
        for service in (web_service, bot_service):
            if service.proc is not None and service.proc.returncode is None:
                service.proc.kill()
                await service.proc.wait()
        await net.close()
        await drop_database(db_name)
        shutil.rmtree(prefix, ignore_errors=True)
