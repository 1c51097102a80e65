"""Run real Synapse homeservers on loopback, for the local demo and the test suite.

Each homeserver lives in its own folder with a generated config, a signing key and a
self-signed TLS certificate for its federation listener. Server names are
``localhost:PORT`` (the federation port) because other ``.localhost`` names do not
resolve on the machines we run on; federation between two of them works because
certificate checks are off and loopback is whitelisted for outbound federation.

Needs the ``homeserver`` extra (``matrix-synapse``) in the same environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from coordinator.logs import get_logger

log = get_logger(__name__)

_GENEROUS = {"per_second": 10_000, "burst_count": 10_000}


class HomeserverError(RuntimeError):
    pass


def synapse_available() -> bool:
    try:
        import synapse  # noqa: F401
    except ImportError:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class RegisteredUser:
    user_id: str
    password: str
    access_token: str
    device_id: str


@dataclass
class Homeserver:
    """One Synapse process; ``start``/``stop``/``restart`` keep its folder and ports."""

    directory: Path
    client_port: int = field(default_factory=free_port)
    federation_port: int = field(default_factory=free_port)
    rate_limits: dict[str, object] | None = None
    registration_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    _process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def server_name(self) -> str:
        return f"localhost:{self.federation_port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def mxid(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    # -- setup -------------------------------------------------------------------------

    def _write_files(self) -> Path:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        config_path = d / "homeserver.yaml"
        secrets_path = d / "secrets.json"
        if secrets_path.exists():
            stored = json.loads(secrets_path.read_text())
            self.registration_secret = stored["registration_secret"]
        else:
            stored = {
                "registration_secret": self.registration_secret,
                "macaroon_secret_key": secrets.token_hex(32),
                "form_secret": secrets.token_hex(32),
            }
            secrets_path.write_text(json.dumps(stored))
            secrets_path.chmod(0o600)
        if not (d / "signing.key").exists():
            _write_signing_key(d / "signing.key")
        if not (d / "tls.crt").exists():
            _write_self_signed_cert(d / "tls.crt", d / "tls.key")
        (d / "log.yaml").write_text(_log_config(d / "homeserver.log"))
        config = self._config(stored)
        # JSON is valid YAML, and keeps us from depending on a YAML writer.
        config_path.write_text(json.dumps(config, indent=1))
        return config_path

    def _config(self, stored: dict[str, str]) -> dict[str, object]:
        d = self.directory
        limits: dict[str, object] = {
            "rc_message": _GENEROUS,
            "rc_registration": _GENEROUS,
            "rc_room_creation": _GENEROUS,
            "rc_login": {
                "address": _GENEROUS,
                "account": _GENEROUS,
                "failed_attempts": _GENEROUS,
            },
            "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
            "rc_joins_per_room": _GENEROUS,
            "rc_invites": {
                "per_room": _GENEROUS,
                "per_user": _GENEROUS,
                "per_issuer": _GENEROUS,
            },
            "rc_3pid_validation": _GENEROUS,
            "rc_admin_redaction": _GENEROUS,
            "rc_key_requests": _GENEROUS,
            "rc_federation": {
                "window_size": 1000,
                "sleep_limit": 10_000,
                "sleep_delay": 1,
                "reject_limit": 10_000,
                "concurrent": 100,
            },
            "rc_presence": {"per_user": _GENEROUS},
            "rc_delayed_event_mgmt": _GENEROUS,
            "rc_reports": _GENEROUS,
            "federation_rr_transactions_per_room_per_second": 10_000,
        }
        limits.update(self.rate_limits or {})
        return {
            "server_name": self.server_name,
            "pid_file": str(d / "homeserver.pid"),
            "public_baseurl": self.base_url + "/",
            "listeners": [
                {
                    "port": self.client_port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                },
                {
                    "port": self.federation_port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": True,
                    "resources": [{"names": ["federation"], "compress": False}],
                },
            ],
            "tls_certificate_path": str(d / "tls.crt"),
            "tls_private_key_path": str(d / "tls.key"),
            "federation_verify_certificates": False,
            "ip_range_whitelist": ["127.0.0.0/8"],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "database": {
                "name": "sqlite3",
                "args": {"database": str(d / "homeserver.db")},
            },
            "log_config": str(d / "log.yaml"),
            "media_store_path": str(d / "media"),
            "signing_key_path": str(d / "signing.key"),
            "registration_shared_secret": stored["registration_secret"],
            "macaroon_secret_key": stored["macaroon_secret_key"],
            "form_secret": stored["form_secret"],
            "report_stats": False,
            "enable_metrics": False,
            "enable_registration": False,
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "allow_public_rooms_over_federation": False,
            "require_auth_for_profile_requests": False,
            # Forgetting as in production (deploy/homeserver.example.yaml), and a redacted
            # event's content erased from the database at the next censoring pass.
            "retention": {"enabled": True},
            "redaction_retention_period": 0,
            **limits,
        }

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, timeout: float = 60.0) -> None:
        if self.running:
            return
        config_path = self._write_files()
        logfile = open(self.directory / "stdout.log", "ab")  # noqa: ASYNC230 - a local fd for the child
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "partner_bots.homeserver.launch",
                "--config-path",
                str(config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                start_new_session=True,
            )
        finally:
            logfile.close()
        await self._wait_ready(timeout)
        log.info("homeserver.started", server=self.server_name, pid=self.pid)

    async def _wait_ready(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        url = f"{self.base_url}/_matrix/client/versions"
        async with aiohttp.ClientSession() as http:
            while loop.time() < deadline:
                if self._process is not None and self._process.returncode is not None:
                    raise HomeserverError(
                        f"Synapse exited with {self._process.returncode}; "
                        f"see {self.directory / 'homeserver.log'}:\n{self.log_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)
        await self.stop()
        raise HomeserverError(f"Synapse did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for name in ("stdout.log", "homeserver.log"):
            p = self.directory / name
            if p.exists():
                out.extend(p.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out)

    async def stop(self, timeout: float = 15.0) -> None:
        proc = self._process
        if proc is None or proc.returncode is not None:
            self._process = None
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        self._process = None
        log.info("homeserver.stopped", server=self.server_name)

    async def kill(self) -> None:
        """Stop without a clean shutdown, as a crash would."""
        proc = self._process
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        self._process = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    # -- users -------------------------------------------------------------------------

    async def register(
        self, localpart: str, password: str | None = None, admin: bool = False
    ) -> RegisteredUser:
        """Create a user through the shared-secret registration API."""
        password = password or secrets.token_urlsafe(12)
        url = f"{self.base_url}/_synapse/admin/v1/register"
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:
                nonce = (await resp.json())["nonce"]
            body = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": _mac_hex(self.registration_secret, nonce, localpart, password, admin),
            }
            async with http.post(url, json=body) as resp:
                data = await resp.json()
                if resp.status != 200:
                    raise HomeserverError(f"registration of {localpart} failed: {data}")
        return RegisteredUser(data["user_id"], password, data["access_token"], data["device_id"])


def _mac_hex(secret: str, nonce: str, user: str, password: str, admin: bool) -> str:
    """The HMAC-SHA1 that Synapse's shared-secret registration expects."""
    message = b"\x00".join(
        [nonce.encode(), user.encode(), password.encode(), b"admin" if admin else b"notadmin"]
    )
    return hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()


def _write_signing_key(path: Path) -> None:
    from signedjson.key import generate_signing_key, write_signing_keys

    with path.open("w") as f:
        write_signing_keys(f, [generate_signing_key("a_dsx")])
    path.chmod(0o600)


def _write_self_signed_cert(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)


def _log_config(logfile: Path) -> str:
    return json.dumps(
        {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "plain",
                    "filename": str(logfile),
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
    )


async def start_federation(base: Path, count: int = 2) -> list[Homeserver]:
    """Start ``count`` homeservers that federate with each other (concurrently)."""
    servers = [Homeserver(base / f"hs{i + 1}") for i in range(count)]
    await asyncio.gather(*(s.start() for s in servers))
    return servers
