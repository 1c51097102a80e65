"""What the web process writes to its logs, and what it imports."""

from __future__ import annotations

import asyncio
import io
import logging
import sys

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator import logs
from coordinator.forms import PROVIDER_FORM, REQUEST_FORM, validate
from dsx.web.app import bound_port, start_site
from tests.web.conftest import CSRF_RE, STAFF
from tests.web.forms_data import CANARY, full_form

NOISY = ("nio", "aiohttp.access", "peewee", "sqlalchemy.engine", "asyncio")


async def test_logs_hold_no_address_agent_token_or_typed_text(web):
    stream = io.StringIO()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in NOISY}, root.level
    logs.setup("INFO", stream=stream)
    runner = await start_site(web.client.server.app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{bound_port(runner)}"
    link = await web.auth.create_login_link(STAFF)
    token = link.rsplit("/", 1)[1]
    headers = {"User-Agent": "CanaryAgent/9", "Referer": "https://canary-referrer.example/"}
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base, cookie_jar=jar, headers=headers) as http:
            page = await (await http.get("/request")).text()
            csrf = CSRF_RE.search(page).group(1)
            bad = full_form(REQUEST_FORM, email="not-an-email")
            assert (await http.post("/request", data=[("csrf_token", csrf), *bad])).status == 400
            good = full_form(REQUEST_FORM)
            assert (await http.post("/request", data=[("csrf_token", csrf), *good])).status == 200
            page = await (await http.get(f"/login/{token}")).text()
            csrf = CSRF_RE.search(page).group(1)
            signed = await http.post("/login", data={"csrf_token": csrf, "token": token})
            assert signed.status == 200 and "<h1>Open requests</h1>" in await signed.text()
            assert (await http.get("/api/stats")).status == 401
    finally:
        await runner.cleanup()
        for handler in list(root.handlers):
            if getattr(handler, "_dsx", False):
                root.removeHandler(handler)
        for name, level in saved[0].items():
            logging.getLogger(name).setLevel(level)
        root.setLevel(saved[1])
    await asyncio.sleep(0)
    out = stream.getvalue()
    assert '"web.access"' in out and '"route": "/login/{token}"' in out
    assert '"web.intake_received"' in out
    assert "[ip]" not in out and "[email]" not in out  # nothing even reached the scrubber
    for secret in (
        "127.0.0.1",
        "CanaryAgent",
        "canary-referrer",
        token,
        CANARY,
        CANARY.lower(),
        "not-an-email",
    ):
        assert secret not in out, secret


def test_web_layer_imports_neither_matrix_nor_test_tools():
    banned = ("nio", "partner_bots", "playwright", "schemathesis")
    code = (
        "import sys, dsx.web; "
        f"bad = [m for m in sys.modules if m.split('.')[0] in {banned!r}]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_oversized_post_is_refused_with_headers(web):
    resp = await web.client.post("/request", data={"need": "x" * 200_000})
    assert resp.status == 413
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")


FIELD_VALUES = st.one_of(st.text(max_size=60), st.lists(st.text(max_size=20), max_size=4))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.dictionaries(
        st.sampled_from([*REQUEST_FORM.names, *PROVIDER_FORM.names, "csrf_token", "extra"]),
        FIELD_VALUES,
        max_size=12,
    ),
    provider=st.booleans(),
)
def test_validation_never_crashes_and_only_names_schema_fields(data, provider):
    schema = PROVIDER_FORM if provider else REQUEST_FORM
    result = validate(schema, data)
    assert set(result.errors) <= set(schema.names)
    assert set(result.submission.values) == set(schema.names)
    if result.ok:
        assert any(result.submission.text(n) for n in ("phone", "email", "signal", "matrix"))
        for spec in schema.fields:
            if spec.required:
                assert result.submission.text(spec.name)
