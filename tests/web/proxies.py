"""What the reverse-proxy tests share: a certificate made on the spot, free loopback
ports, waiting for a proxy to listen, and a visitor on its own loopback address."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from coordinator.store.schema import rate_limits
from dsx.web.ratelimit import Scope
from tests.web.conftest import CSRF_RE, Web

HOST = "dsx.example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(HOST), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "fullchain.pem", folder / "privkey.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def wait_listening(port: int, proc: asyncio.subprocess.Process) -> None:
    """Until something accepts on ``port``; fails with the proxy's output if it exits."""
    for _ in range(200):
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        if proc.returncode is not None:
            output = await proc.stderr.read() if proc.stderr else b""
            raise AssertionError(output.decode(errors="replace"))
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


class Visitor:
    """A browser on its own loopback address: its own connection, cookies and CSRF token."""

    def __init__(self, source: str, https_port: int, cert: Path):
        context = ssl.create_default_context(cafile=str(cert))
        connector = aiohttp.TCPConnector(ssl=context, local_addr=(source, 0))
        self.base = f"https://127.0.0.1:{https_port}"
        self.session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.token = ""

    async def post(self, pairs, forged: str | None = None) -> int:
        if not self.token:
            page = await self.session.get(f"{self.base}/request")
            assert page.status == 200
            found = CSRF_RE.search(await page.text())
            assert found
            self.token = found.group(1)
        headers = {"X-Forwarded-For": forged} if forged else {}
        resp = await self.session.post(
            f"{self.base}/request", data=[("csrf_token", self.token), *pairs], headers=headers
        )
        await resp.read()
        return resp.status

    async def close(self) -> None:
        await self.session.close()


async def form_clients(web: Web) -> int:
    """How many clients the app has counted form posts for."""
    query = sa.select(sa.func.count()).where(rate_limits.c.scope == Scope.FORMS.value)
    async with web.coord.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())
