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
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dsx.web.ratelimit import Scope
from dsx.web.security import HSTS
from tests.harness.components import require
from tests.web.conftest import Web, make_web
from tests.web.forms_data import REQUEST_FORM, full_form
from tests.web.proxies import Visitor, form_clients, free_port, self_signed

EXAMPLE = Path(__file__).parents[2] / "deploy" / "proxy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAVE_NGINX = Path(NGINX).exists()


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
    cert, key = self_signed(prefix)
    https_port, http_port = free_port(), free_port()
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


@pytest.fixture
async def proxied(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Web, int, int, Path]]:
    require(HAVE_NGINX, "Debian nginx is not installed (deploy/setup-test-deps.sh)")
    async for web in make_web(sqlite_url, tmp_path, trust_proxy=True, hsts=True):
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        async with nginx_in_front(web.client.server.port, prefix) as (https, http, cert):
            yield web, https, http, cert


async def test_one_visitor_spending_their_budget_leaves_another_alone(proxied):
    web, https_port, _http, cert = proxied
    allowed = web.settings.limits[Scope.FORMS].hits
    bad, good = full_form(REQUEST_FORM, name=""), full_form(REQUEST_FORM)
    first, second = Visitor("127.0.0.2", https_port, cert), Visitor("127.0.0.3", https_port, cert)
    try:
        assert [await first.post(bad) for _ in range(allowed)] == [400] * allowed
        assert await first.post(good) == 429
        assert await second.post(good) == 200  # not the shared bucket of before
        assert await form_clients(web) == 2
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
        assert await form_clients(web) == 1  # nginx replaced every forged header
        # Someone claiming to be the forger's address spends nothing of the forger's,
        # nor the other way round.
        assert await other.post(good, forged="127.0.0.4") == 200
        assert await form_clients(web) == 2
    finally:
        await forger.close()
        await other.close()


async def test_tls_hsts_and_the_redirect_from_http(proxied):
    _web, https_port, http_port, cert = proxied
    visitor = Visitor("127.0.0.6", https_port, cert)
    try:
        resp = await visitor.session.get(f"{visitor.base}/")
        assert resp.status == 200
        # nginx's own header, and the app's: it believed the proxy's X-Forwarded-Proto.
        hsts = resp.headers.getall("Strict-Transport-Security")
        assert HSTS in hsts and any("max-age=63072000" in h for h in hsts)
        assert "Content-Security-Policy" in resp.headers
        plain = await visitor.session.get(
            f"http://127.0.0.1:{http_port}/request", allow_redirects=False
        )
        assert plain.status == 301
        assert plain.headers["Location"].startswith("https://")
    finally:
        await visitor.close()
