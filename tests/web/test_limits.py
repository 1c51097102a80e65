"""Rate limits through the app: per client, per limit, one counter for every process.

The test client connects from 127.0.0.1, a default proxy peer, so with ``trust_proxy``
on, ``X-Forwarded-For`` stands for the address a proxy saw (tests/web/test_proxy_nginx.py
runs the real nginx example in front of the app).
"""

from __future__ import annotations

import sqlalchemy as sa
from yarl import URL

from coordinator.config import Config, MatrixConfig
from coordinator.store.schema import sealed
from dsx.web.ratelimit import Limit, Scope
from dsx.web.settings import WebSettings, rate_secret
from tests.web.conftest import STAFF, make_web
from tests.web.forms_data import REQUEST_FORM, full_form

A, B, C = "198.51.100.7", "203.0.113.9", "192.0.2.44"
SMALL = {
    Scope.FORMS: Limit(3, 300),
    Scope.FORMS_OVERALL: Limit(2, 300),
    Scope.SIGN_IN: Limit(2, 300),
    Scope.API: Limit(2, 60),
}


async def _post(web, address: str | None, pairs, kind: str = "request") -> int:
    token = await web.csrf(f"/{kind}")
    headers = {"X-Forwarded-For": address} if address else {}
    resp = await web.client.post(f"/{kind}", data=[("csrf_token", token), *pairs], headers=headers)
    return resp.status


async def _stored(web) -> int:
    async with web.coord.engine.connect() as conn:
        query = sa.select(sa.func.count(sa.distinct(sealed.c.owner)))
        return int((await conn.execute(query)).scalar_one())


async def test_invalid_posts_spend_only_the_posters_budget(sqlite_url, tmp_path):
    bad, good = full_form(REQUEST_FORM, name=""), full_form(REQUEST_FORM)
    async for web in make_web(sqlite_url, tmp_path, trust_proxy=True, limits=SMALL):
        assert [await _post(web, A, bad) for _ in range(4)] == [400, 400, 400, 429]
        assert await _post(web, A, good) == 429  # A's budget is spent, valid or not
        # A flood of invalid posts from many addresses leaves the shared cap untouched.
        for i in range(20):
            assert await _post(web, f"192.0.2.{100 + i}", bad) == 400
        assert await _post(web, B, good) == 200
        assert await _post(web, C, good) == 200
        # The shared cap (2 stored submissions here) is spent by stored submissions only.
        assert await _post(web, "192.0.2.200", good) == 429
        assert await _stored(web) == 2


async def test_a_forged_header_does_not_count_without_trust_or_from_another_peer(tmp_path):
    good = full_form(REQUEST_FORM)
    limits = {**SMALL, Scope.FORMS_OVERALL: Limit(100, 300)}
    for i, overrides in enumerate(
        ({"trust_proxy": False}, {"trust_proxy": True, "proxy_peers": ("10.0.0.1", "fd00::/8")})
    ):
        url = f"sqlite+aiosqlite:///{tmp_path / f'dsx{i}.sqlite3'}"
        async for web in make_web(url, tmp_path, limits=limits, **overrides):
            statuses = [await _post(web, f"192.0.2.{i}", good) for i in range(4)]
            assert statuses == [200, 200, 200, 429], overrides


async def test_sign_in_forms_and_api_have_separate_budgets(sqlite_url, tmp_path):
    async for web in make_web(sqlite_url, tmp_path, trust_proxy=True, limits=SMALL):
        bad = full_form(REQUEST_FORM, name="")
        for _ in range(4):
            await _post(web, None, bad)
        assert await _post(web, None, bad) == 429  # forms spent for 127.0.0.1
        # Sign-in: dead tokens spend the sign-in budget only.
        link = URL(await web.auth.create_login_link(STAFF)).path
        token = await web.csrf(link)
        dead = [
            (
                await web.client.post(
                    "/login", data={"csrf_token": token, "token": "x" * 43}, allow_redirects=False
                )
            ).status
            for _ in range(3)
        ]
        assert dead == [410, 410, 429]
        # A staff member signing in from elsewhere is not locked out.
        resp = await web.client.post(
            "/login",
            data={"csrf_token": token, "token": link.rsplit("/", 1)[1]},
            headers={"X-Forwarded-For": B},
            allow_redirects=False,
        )
        assert resp.status == 303
        # API: guessed tokens spend the guesser's API budget, not the staff member's.
        api_token = await web.auth.issue_api_token(STAFF)
        guesses = [
            (
                await web.client.get(
                    "/api/stats",
                    headers={"Authorization": "Bearer guess", "X-Forwarded-For": C},
                )
            ).status
            for _ in range(3)
        ]
        assert guesses == [401, 401, 429]
        limited = await web.client.get("/api/stats", headers={"X-Forwarded-For": C})
        assert limited.headers["Retry-After"] == "60"
        assert (await limited.json())["error"]["code"] == "rate_limited"
        ok = await web.client.get("/api/stats", headers={"Authorization": f"Bearer {api_token}"})
        assert ok.status == 200


async def test_the_limit_holds_across_two_app_instances_on_one_postgres(postgres_url, tmp_path):
    """Two apps (as two ``dsx run`` processes would be), each with its own pool, on one
    PostgreSQL database, keyed alike because they share the deployment's pickle key."""
    pickle_key = "one deployment's pickle key"
    shared = {"trust_proxy": True, "rate_secret": rate_secret(pickle_key)}
    good = full_form(REQUEST_FORM)
    async for first in make_web(postgres_url, tmp_path / "one", **shared):
        async for second in make_web(postgres_url, tmp_path / "two", **shared):
            allowed = first.settings.limits[Scope.FORMS].hits
            statuses = [
                await _post(first if i % 2 else second, A, good) for i in range(allowed + 2)
            ]
            assert statuses == [200] * allowed + [429, 429]
            assert await _post(first, B, good) == 200
            assert await _post(second, B, good) == 200


def test_every_process_of_a_deployment_derives_the_same_rate_secret():
    def settings(pickle_key: str) -> WebSettings:
        return WebSettings.from_config(Config(matrix=MatrixConfig(pickle_key=pickle_key)))

    assert settings("p" * 32).rate_secret == settings("p" * 32).rate_secret
    assert settings("p" * 32).rate_secret != settings("q" * 32).rate_secret
    assert b"p" * 16 not in settings("p" * 32).rate_secret
    # Without a pickle key each process keys its own (and `dsx doctor` flags the key).
    assert settings("").rate_secret != settings("").rate_secret


def test_proxy_peers_come_from_the_config_file(tmp_path):
    from coordinator.config import load

    path = tmp_path / "dsx.toml"
    path.write_text("[web]\ntrust_proxy = true\nproxy_peers = ['172.18.0.0/16', 'fd00::1']\n")
    settings = WebSettings.from_config(load(path, env={}))
    assert settings.trust_proxy and settings.proxy_peers == ("172.18.0.0/16", "fd00::1")


async def test_the_rightmost_forwarded_value_is_the_client(sqlite_url, tmp_path):
    """Behind a proxy that appends, the client's own claims sit left of what the proxy
    wrote; only the rightmost value counts."""
    good = full_form(REQUEST_FORM)
    limits = {**SMALL, Scope.FORMS_OVERALL: Limit(100, 300)}
    async for web in make_web(sqlite_url, tmp_path, trust_proxy=True, limits=limits):
        claims = [f"192.0.2.{i}, {A}" for i in range(3)]
        assert [await _post(web, claim, good) for claim in claims] == [200, 200, 200]
        assert await _post(web, A, good) == 429
        assert await _post(web, f"{A}, {B}", good) == 200
