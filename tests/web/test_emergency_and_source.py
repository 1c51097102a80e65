"""Every page links to the program's source (AGPL), and the request form says whom to
reach when it is happening now (docs/operator.md, "Configure")."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from coordinator.config import EmergencyConfig
from tests.web.conftest import make_web

PAGES = ["/", "/request", "/provider", "/login/expired-or-unknown"]


@pytest.fixture
async def web_with_contact(sqlite_url, tmp_path):
    contact = EmergencyConfig(
        signal="+1 555 0199", email="urgent@dsx.example", phone="+1 555 0123", hours="8-22 ET"
    )
    async for w in make_web(sqlite_url, tmp_path, emergency=contact):
        yield w


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_links_to_the_source(web, path):
    resp = await web.client.get(path)
    assert 'id="source-link"' in await resp.text()


async def test_the_source_is_the_running_code_with_its_licence(web):
    resp = await web.client.get("/source")
    assert resp.status == 200 and resp.content_type == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(await resp.read())) as tar:
        names = tar.getnames()
        prefix = names[0].split("/")[0]
        assert f"{prefix}/LICENSE" in names
        assert f"{prefix}/dsx/web/views_source.py" in names
        licence = tar.extractfile(f"{prefix}/LICENSE").read().decode()
        own = tar.extractfile(f"{prefix}/dsx/web/views_source.py").read()
    assert "GNU AFFERO GENERAL PUBLIC LICENSE" in licence
    import dsx.web.views_source as module

    assert own == await asyncio.to_thread(Path(module.__file__).read_bytes)
    assert not any("__pycache__" in n for n in names)


async def test_a_configured_source_url_is_linked_instead(sqlite_url, tmp_path):
    async for w in make_web(sqlite_url, tmp_path, source_url="https://code.example/dsx"):
        assert (
            'href="https://code.example/dsx" id="source-link"'
            in await (await w.client.get("/")).text()
        )


async def test_request_form_and_thanks_show_the_emergency_contact(web_with_contact):
    text = await (await web_with_contact.client.get("/request")).text()
    box = text[text.index('id="emergency"') :]
    box = box[: box.index("</aside>")]
    for value in ("+1 555 0199", "urgent@dsx.example", "+1 555 0123", "8-22 ET"):
        assert value in box
    assert "Signal or email" not in text  # no promise without an address behind it


async def test_without_a_contact_the_form_points_to_the_partner(web):
    text = await (await web.client.get("/request")).text()
    assert "partner organization that gave you this address" in text
    assert "Signal or email" not in text


def test_config_check_warns_when_no_emergency_contact(tmp_path):
    conf = tmp_path / "dsx.toml"
    base = (
        "[matrix]\npassword = 'pw'\npickle_key = 'a-long-random-pickle-key'\n"
        "user_id = '@dsx:hs.example'\n"
    )
    conf.write_text(base + "[staff]\nmembers = ['@staff:hs.example']\n")
    result = subprocess.run(
        [sys.executable, "-m", "dsx", "config", "check", "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "warning: emergency: no signal, phone or email" in result.stderr
    conf.write_text(
        base + "[staff]\nmembers = ['@staff:hs.example']\n[emergency]\nsignal = '+1 555 0100'\n"
    )
    again = subprocess.run(
        [sys.executable, "-m", "dsx", "config", "check", "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and "warning: emergency" not in again.stderr


async def test_healthz_and_source_name_the_running_version(web):
    """The same version as ``dsx --version`` (tests/foundation/test_version.py), and the
    archive carries it in PKG-INFO so a build from it keeps it."""
    from coordinator import __version__

    health = await web.client.get("/healthz")
    assert (await health.json())["version"] == __version__
    resp = await web.client.get("/source")
    assert f"dsx-coordinator-{__version__}-source.tar.gz" in resp.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(await resp.read())) as tar:
        prefix = f"dsx-coordinator-{__version__}"
        pkg_info = tar.extractfile(f"{prefix}/PKG-INFO").read().decode()
    assert f"\nVersion: {__version__}\n" in pkg_info
