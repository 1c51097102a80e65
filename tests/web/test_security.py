"""Headers on every response, HSTS only behind TLS, and an access log that knows no one."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp import web as aioweb
from aiohttp.test_utils import TestClient, TestServer

from coordinator import audit_key
from coordinator import config as cfg
from coordinator.sealing import PublicSealer, generate_keypair
from coordinator.usecases import Coordinator
from dsx.web import build_web
from dsx.web.security import CSP, PrivateAccessLogger
from tests.web.conftest import make_web

PATHS = ["/", "/request", "/provider", "/static/dsx.css", "/no-such-page"]


@pytest.mark.parametrize("path", PATHS)
async def test_every_response_has_strict_headers(web, path):
    resp = await web.client.get(path)
    assert resp.status == (404 if path == "/no-such-page" else 200)
    h = resp.headers
    assert h["Content-Security-Policy"] == CSP
    assert "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP
    assert "script-src" not in CSP and "unsafe-inline" not in CSP
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in h  # plain http
    assert "Server" not in h


async def test_static_css_is_served_by_the_app(web):
    resp = await web.client.get("/static/dsx.css")
    assert resp.content_type == "text/css"
    body = await resp.text()
    assert "svg.graph" in body and "http" not in body and "@import" not in body


async def test_pages_reference_no_other_host(web):
    for path in ("/", "/request", "/provider"):
        html = await (await web.client.get(path)).text()
        assert "<script" not in html.lower()
        assert (
            "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
        )
        assert " style=" not in html  # CSP forbids inline styles


async def test_hsts_only_from_trusted_proxy(sqlite_url, tmp_path):
    async for w in make_web(sqlite_url, tmp_path, trust_proxy=True, hsts=True):
        tls = await w.client.get("/", headers={"X-Forwarded-Proto": "https"})
        assert tls.headers["Strict-Transport-Security"].startswith("max-age=")
        plain = await w.client.get("/")
        assert "Strict-Transport-Security" not in plain.headers
    async for w in make_web(sqlite_url, tmp_path, trust_proxy=False, hsts=True):
        spoofed = await w.client.get("/", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" not in spoofed.headers


@pytest.mark.parametrize("trust", [True, False])
async def test_trust_proxy_from_the_config_file(sqlite_url, tmp_path, trust):
    """``[web] trust_proxy`` in dsx.toml decides whether X-Forwarded-Proto counts."""
    file = tmp_path / "dsx.toml"
    file.write_text(
        f'data_dir = "{tmp_path}"\n'
        f'[database]\nurl = "{sqlite_url}"\n'
        '[staff]\nroom = "!staff:hs"\nmembers = ["@staff:hs"]\n'
        f'[web]\npublic_url = "https://dsx.example"\ntrust_proxy = {str(trust).lower()}\n'
    )
    config = cfg.load(file, env={})
    assert config.web.trust_proxy is trust
    (tmp_path / "keys").mkdir()
    audit_key.create(audit_key.key_path(config))
    sealer = PublicSealer(generate_keypair().public)
    coord = await Coordinator.open(config, sealer=sealer)
    try:
        stack = build_web(coord, config, sealer)  # settings from the file, no overrides
        assert stack.settings.trust_proxy is trust and stack.settings.hsts
        async with TestClient(TestServer(stack.app)) as client:
            proxied = await client.get("/request", headers={"X-Forwarded-Proto": "https"})
            assert proxied.status == 200
            assert ("Strict-Transport-Security" in proxied.headers) is trust
            plain = await client.get("/")
            assert "Strict-Transport-Security" not in plain.headers
            # An https public URL makes cookies Secure either way.
            assert "Secure" in proxied.headers["Set-Cookie"]
    finally:
        await coord.aclose()


async def test_access_log_has_no_address_agent_or_token(caplog):
    async def handler(request):
        return aioweb.Response(text="ok")

    app = aioweb.Application()
    app.router.add_get("/login/{token}", handler)
    server = TestServer(app)
    await server.start_server(access_log_class=PrivateAccessLogger)
    client = TestClient(server)
    await client.start_server()
    try:
        with caplog.at_level(logging.INFO, logger="dsx.web.access"):
            resp = await client.get(
                "/login/SECRET-TOKEN?x=1",
                headers={"User-Agent": "CanaryBrowser/1.0", "Referer": "http://canary.example/"},
            )
            assert resp.status == 200
    finally:
        await client.close()
    records = [r for r in caplog.records if r.name == "dsx.web.access"]
    assert len(records) == 1
    record = records[0]
    assert record.route == "/login/{token}" and record.status == 200
    dumped = json.dumps({k: str(v) for k, v in record.__dict__.items()})
    for secret in ("SECRET-TOKEN", "127.0.0.1", "CanaryBrowser", "canary.example", "x=1"):
        assert secret not in dumped


async def test_private_pages_are_not_indexed(web):
    assert (await web.client.get("/dashboard")).headers["X-Robots-Tag"].startswith("noindex")
    assert (await web.client.get("/api/stats")).headers["X-Robots-Tag"].startswith("noindex")
    assert "X-Robots-Tag" not in (await web.client.get("/request")).headers


class Boom(Exception):
    pass


async def test_unexpected_errors_reveal_nothing(web, caplog):
    class Failing:
        async def submit(self, submission):
            raise Boom(f"cannot store {submission.text('need')}")

    from dsx.web.services import SERVICES
    from tests.web.forms_data import CANARY, SCHEMAS, full_form

    app = web.client.server.app
    saved = app[SERVICES].intake
    object.__setattr__(app[SERVICES], "intake", Failing())
    try:
        token = await web.csrf("/request")
        with caplog.at_level(logging.ERROR):
            resp = await web.client.post(
                "/request", data=[("csrf_token", token), *full_form(SCHEMAS["request"])]
            )
        page = await resp.text()
    finally:
        object.__setattr__(app[SERVICES], "intake", saved)
    assert resp.status == 500 and "Nothing was saved" in page
    assert CANARY not in page and "Boom" not in page
    assert resp.headers["Content-Security-Policy"] == CSP
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "Boom" in logged and CANARY not in logged
