"""The shipped nginx example (deploy/proxy/nginx.conf) in front of the real app.

Debian's nginx runs the example's server blocks as shipped, with only the listen ports,
the certificate and log paths and the upstream port replaced (each replacement must
match exactly once, so the test breaks if the example drifts), over TLS with a
certificate made here. Visitors connect from different loopback addresses (127.0.0.2,
127.0.0.3, ...), which is what nginx sees and passes on: one visitor spending their
budget leaves another's alone, and an X-Forwarded-For a visitor forges changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from coordinator.store.schema import rate_limits
from coordinator.web.ratelimit import Scope
from tests.harness.components import require
from tests.web.conftest import CSRF_RE, Web, make_web
from tests.web.forms_data import REQUEST_FORM, full_form

EXAMPLE = Path(__file__).parents[2] / "deploy" / "proxy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAVE_NGINX = Path(NGINX).exists()
HOST = "dsx.example.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
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


def render_example(
    *, https_port: int, http_port: int, app_port: int, cert: Path, key: Path, log: Path
) -> str:
    """The shipped example with ports and paths for this test; nothing else changes."""
    text = EXAMPLE.read_text()
    replacements = [
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("/etc/letsencrypt/live/dsx.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/dsx.example.org/privkey.pem", str(key)),
        ("/var/log/nginx/dsx-error.log", str(log)),
        ("proxy_pass http://127.0.0.1:8080;", f"proxy_pass http://127.0.0.1:{app_port};"),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"deploy/proxy/nginx.conf no longer has {old!r} once"
        text = text.replace(old, new)
    return text


def _main_config(prefix: Path, site: Path) -> str:
    """nginx's main context (Debian's /etc/nginx/nginx.conf has the same role): it only
    includes the rendered example, with every file under the temporary prefix."""
    temp = "\n".join(
        f"    {name}_temp_path {prefix / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
master_process off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
{temp}
    access_log off;
    include {site};
}}
"""


@contextlib.asynccontextmanager
async def nginx_in_front(app_port: int, prefix: Path) -> AsyncIterator[tuple[int, int, Path]]:
    cert, key = _self_signed(prefix)
    https_port, http_port = _free_port(), _free_port()
    site = prefix / "dsx.conf"
    site.write_text(
        render_example(
            https_port=https_port,
            http_port=http_port,
            app_port=app_port,
            cert=cert,
            key=key,
            log=prefix / "dsx-error.log",
        )
    )
    main = prefix / "nginx.conf"
    main.write_text(_main_config(prefix, site))
    args = [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(main)]
    check = await asyncio.create_subprocess_exec(
        *args, "-t", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _out, problems = await asyncio.wait_for(check.communicate(), 30)
    assert check.returncode == 0, problems.decode()
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(100):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", https_port), timeout=0.2),
            ):
                break
            if proc.returncode is not None:
                raise AssertionError(await proc.stderr.read()) if proc.stderr else AssertionError
            await asyncio.sleep(0.05)
        yield https_port, http_port, cert
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


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


@pytest.fixture
async def proxied(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Web, int, int, Path]]:
    require(HAVE_NGINX, "Debian nginx is not installed (deploy/setup-test-deps.sh)")
    async for web in make_web(sqlite_url, tmp_path, trust_proxy=True, hsts=True):
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        async with nginx_in_front(web.client.server.port, prefix) as (https, http, cert):
            yield web, https, http, cert


async def _clients(web: Web) -> int:
    """How many clients the app has counted form posts for."""
    query = sa.select(sa.func.count()).where(rate_limits.c.scope == Scope.FORMS.value)
    async with web.coord.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_one_visitor_spending_their_budget_leaves_another_alone(proxied):
    web, https_port, _http, cert = proxied
    allowed = web.settings.limits[Scope.FORMS].hits
    bad, good = full_form(REQUEST_FORM, name=""), full_form(REQUEST_FORM)
    first, second = Visitor("127.0.0.2", https_port, cert), Visitor("127.0.0.3", https_port, cert)
    try:
        assert [await first.post(bad) for _ in range(allowed)] == [400] * allowed
        assert await first.post(good) == 429
        assert await second.post(good) == 200  # not the shared bucket of before
        assert await _clients(web) == 2
    finally:
        await first.close()
        await second.close()


async def test_a_forged_forwarded_for_does_not_escape_the_limit(proxied):
    web, https_port, _http, cert = proxied
    allowed = web.settings.limits[Scope.FORMS].hits
    good = full_form(REQUEST_FORM)
    forger = Visitor("127.0.0.4", https_port, cert)
    other = Visitor("127.0.0.5", https_port, cert)
    forged = [f"198.51.100.{i}" for i in range(allowed)] + ["203.0.113.1, 127.0.0.9"]
    try:
        statuses = [await forger.post(good, forged=f) for f in forged]
        assert statuses == [200] * allowed + [429]
        assert await forger.post(good, forged="2001:db8::1") == 429
        assert await _clients(web) == 1  # nginx replaced every forged header
        # Someone claiming to be the forger's address spends nothing of the forger's,
        # nor the other way round.
        assert await other.post(good, forged="127.0.0.4") == 200
        assert await _clients(web) == 2
    finally:
        await forger.close()
        await other.close()


async def test_tls_hsts_and_the_redirect_from_http(proxied):
    _web, https_port, http_port, cert = proxied
    visitor = Visitor("127.0.0.6", https_port, cert)
    try:
        resp = await visitor.session.get(f"{visitor.base}/")
        assert resp.status == 200
        # nginx's own header, and the app's (X-Forwarded-Proto from the trusted proxy).
        assert "max-age=" in resp.headers["Strict-Transport-Security"]
        assert "Content-Security-Policy" in resp.headers
        plain = await visitor.session.get(
            f"http://127.0.0.1:{http_port}/request", allow_redirects=False
        )
        assert plain.status == 301
        assert plain.headers["Location"].startswith("https://")
    finally:
        await visitor.close()
