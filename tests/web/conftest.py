"""Fixtures for the web layer: a real coordinator on a real database, the app over it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from coordinator.config import Config, PartnerConfig, PolicyConfig, StaffConfig, WebConfig
from coordinator.sealing import PublicSealer, SealingKeyPair, generate_keypair
from coordinator.usecases import Coordinator
from coordinator.web import StaffAuth, WebServices, WebSettings, create_app
from coordinator.web.intake import CoreIntake

STAFF = "@staff:hs"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_config(tmp_path: Path) -> Config:
    return Config(
        data_dir=str(tmp_path),
        staff=StaffConfig(room="!staff:hs", members=(STAFF,)),
        partners=(
            PartnerConfig("alpha", rooms=("!alpha:hs",), members=("@ann:hs",)),
            PartnerConfig("beta", rooms=("!beta:hs",), members=("@bob:hs",)),
            PartnerConfig("globe", rooms=("!globe:hs",), members=("@gil:hs",), is_global=True),
        ),
        policy=PolicyConfig(sla_minutes_critical=60, sla_minutes_high=120),
        web=WebConfig(public_url="http://127.0.0.1:8080"),
    )


@dataclass
class Web:
    client: TestClient
    coord: Coordinator
    auth: StaffAuth
    settings: WebSettings
    keys: SealingKeyPair
    db_url: str

    async def csrf(self, path: str) -> str:
        page = await self.client.get(path)
        assert page.status == 200, path
        found = CSRF_RE.search(await page.text())
        assert found, f"no CSRF token on {path}"
        return found.group(1)


async def make_web(db_url: str, tmp_path: Path, **overrides: object) -> AsyncIterator[Web]:
    keys = generate_keypair()
    config = make_config(tmp_path)
    coord = await Coordinator.open(config, url=db_url, sealer=PublicSealer(keys.public))
    settings = WebSettings.from_config(config, secure_cookies=False, **overrides)
    auth = StaffAuth(public_url=settings.public_url, staff_members=config.staff.members)
    intake = CoreIntake(
        coord.engine, PublicSealer(keys.public), staff_room="!staff:hs", routing_partner="alpha"
    )
    app = create_app(settings, WebServices(coord.engine, intake, auth, coord))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Web(client, coord, auth, settings, keys, db_url)
    finally:
        await client.close()
        await coord.aclose()


@pytest.fixture
async def web(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Web]:
    async for w in make_web(sqlite_url, tmp_path):
        yield w


@pytest.fixture
async def web_both(db_url: str, tmp_path: Path) -> AsyncIterator[Web]:
    """The same, once on SQLite and once on PostgreSQL."""
    async for w in make_web(db_url, tmp_path):
        yield w
