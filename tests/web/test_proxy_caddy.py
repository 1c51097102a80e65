"""The shipped Caddy example (deploy/proxy/Caddyfile) in front of the real app.

Debian's caddy runs the example's site block as shipped; the test replaces only the site
address (a loopback port instead of the public name, with a certificate made here in
place of automatic TLS) and the upstream port, and puts global options in front that
keep Caddy off the network and out of the home folder. As with nginx
(tests/web/test_proxy_nginx.py): visitors on different loopback addresses keep separate
budgets, and an X-Forwarded-For a visitor forges changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dsx.web.ratelimit import Scope
from tests.harness.components import require
from tests.web.conftest import Web, make_web
from tests.web.forms_data import REQUEST_FORM, full_form
from tests.web.proxies import Visitor, form_clients, free_port, self_signed, wait_listening

EXAMPLE = Path(__file__).parents[2] / "deploy" / "proxy" / "Caddyfile"
CADDY = shutil.which("caddy") or "/usr/bin/caddy"
HAVE_CADDY = Path(CADDY).exists()


def render_example(*, https_port: int, app_port: int, cert: Path, key: Path) -> str:
    """The shipped site block with this test's address, certificate and upstream."""
    text = EXAMPLE.read_text()
    replacements = [
        (
            "dsx.example.org {",
            f"https://127.0.0.1:{https_port} {{\n\tbind 127.0.0.1\n\ttls {cert} {key}",
        ),
        ("reverse_proxy 127.0.0.1:8080\n", f"reverse_proxy 127.0.0.1:{app_port}\n"),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"deploy/proxy/Caddyfile no longer has {old!r} once"
        text = text.replace(old, new)
    options = "{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n}\n"
    return options + text


@contextlib.asynccontextmanager
async def caddy_in_front(app_port: int, prefix: Path) -> AsyncIterator[tuple[int, Path]]:
    cert, key = self_signed(prefix)
    https_port = free_port()
    config = prefix / "Caddyfile"
    config.write_text(render_example(https_port=https_port, app_port=app_port, cert=cert, key=key))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(prefix),
        "XDG_DATA_HOME": str(prefix / "data"),
        "XDG_CONFIG_HOME": str(prefix / "config"),
    }
    args = [CADDY, "run", "--adapter", "caddyfile", "--config", str(config)]
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        await wait_listening(https_port, proc)
        yield https_port, cert
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


@pytest.fixture
async def proxied(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Web, int, Path]]:
    require(HAVE_CADDY, "Debian caddy is not installed (deploy/setup-test-deps.sh)")
    async for web in make_web(sqlite_url, tmp_path, trust_proxy=True, hsts=True):
        prefix = tmp_path / "caddy"
        prefix.mkdir()
        async with caddy_in_front(web.client.server.port, prefix) as (https, cert):
            yield web, https, cert


async def test_visitors_keep_their_own_budgets_and_cannot_forge_another(proxied):
    web, https_port, cert = proxied
    allowed = web.settings.limits[Scope.FORMS].hits
    bad, good = full_form(REQUEST_FORM, name=""), full_form(REQUEST_FORM)
    first = Visitor("127.0.0.2", https_port, cert)
    second = Visitor("127.0.0.3", https_port, cert)
    try:
        forged = [f"198.51.100.{i}" for i in range(allowed)]
        assert [await first.post(bad, forged=f) for f in forged] == [400] * allowed
        assert await first.post(good, forged="203.0.113.1, 127.0.0.9") == 429
        assert await form_clients(web) == 1  # Caddy replaced every forged header
        assert await second.post(good, forged="127.0.0.2") == 200
        assert await form_clients(web) == 2
        home = await second.session.get(f"{second.base}/")
        assert "max-age=" in home.headers["Strict-Transport-Security"]
    finally:
        await first.close()
        await second.close()
