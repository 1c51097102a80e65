"""Fixtures for the web layer: a real coordinator on a real database, the app over it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from coordinator.config import Config, PartnerConfig, PolicyConfig, StaffConfig, WebConfig
from coordinator.domain import Urgency
from coordinator.sealing import PublicSealer, SealingKeyPair, generate_keypair
from coordinator.store.schema import requests
from coordinator.usecases import Coordinator
from dsx.web import StaffAuth, WebSettings, build_web

STAFF = "@staff:hs"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_config(tmp_path: Path, staff: tuple[str, ...] = (STAFF,)) -> Config:
    return Config(
        data_dir=str(tmp_path),
        staff=StaffConfig(room="!staff:hs", members=staff),
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

    async def sign_in(self, staff: str = STAFF) -> None:
        link = await self.auth.create_login_link(staff)
        path = URL(link).path
        token = await self.csrf(path)
        resp = await self.client.post(
            "/login",
            data={"csrf_token": token, "token": path.rsplit("/", 1)[1]},
            allow_redirects=False,
        )
        assert resp.status == 303 and resp.headers["Location"] == "/dashboard"


async def make_web(
    db_url: str, tmp_path: Path, staff: tuple[str, ...] = (STAFF,), **overrides: object
) -> AsyncIterator[Web]:
    keys = generate_keypair()
    config = make_config(tmp_path, staff)
    coord = await Coordinator.open(config, url=db_url, sealer=PublicSealer(keys.public))
    settings = WebSettings.from_config(config, **{"secure_cookies": False, **overrides})
    stack = build_web(coord, config, PublicSealer(keys.public), settings=settings)
    auth, app = stack.auth, stack.app
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


async def seed(c: Coordinator) -> dict[str, str]:
    """Two partners' providers, a pending proposal, an engagement, an overdue urgent case."""
    await c.add_provider("@p1:hs", ["forensics", "training"], ["en"], ["US-CA"], capacity=3)
    await c.add_provider("@p2:hs", ["forensics"], ["en", "es"], ["US-NY"], capacity=3)
    await c.add_provider("@p3:hs", ["training"], ["en"], capacity=1)  # stays an applicant
    await c.vouch("alpha", "@p1:hs")
    await c.vouch("beta", "@p2:hs")
    await c.add_organization(
        "o1", "alpha", region="US-CA", name="Canary Legal Aid", contact="canary@example.org"
    )
    await c.vouch("alpha", "o1")
    for member in ("@p1:hs", "@p2:hs", "o1"):
        await c.vet(member)
    pending = await c.file_request("alpha", "o1", ["training"], ["en"], urgency=Urgency.HIGH)
    proposal = pending
    engaged = await c.file_request("alpha", "o1", ["forensics"], ["en"])
    routed = engaged
    for partner in routed.approvals_needed:
        approval = await c.approve(routed.proposal, partner)
    # Filing routes at once: a skill no provider offers keeps this one waiting, unmatched.
    overdue = await c.file_request("alpha", "o1", ["legal"], urgency=Urgency.CRITICAL)
    async with c.engine.begin() as conn:
        await conn.execute(
            requests.update()
            .where(requests.c.id == overdue.request)
            .values(filed_at=datetime.now(UTC) - timedelta(hours=3))
        )
    return {
        "pending_request": pending.request,
        "proposal": proposal.proposal or "",
        "engagement": approval.engagement or "",
        "overdue_request": overdue.request,
    }
