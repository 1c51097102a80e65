"""What each role of `dsx run` is given and answers for (docs/operator.md, "Two roles").

The two-process run on real Synapse and PostgreSQL is tests/drills/test_roles.py; here,
fast: the web role's configuration keeps none of the bot's secrets, `dsx run --role web`
without a public key stops in one line, and readiness per role on a real database.
"""

from __future__ import annotations

import dataclasses

import pytest

from coordinator import config as cfg
from coordinator.health import Probe, SyncState
from coordinator.store import create_engine, migrate
from coordinator.store import outbox as store
from coordinator.store.clock import utcnow
from coordinator.store.schema import outbox
from dsx.cli.main import main

SECRETS = {"password": "pw-canary", "access_token": "tok-canary", "pickle_key": "pk-canary-0123456"}


def _with_secrets() -> cfg.Config:
    return cfg.parse(
        {
            "matrix": {"user_id": "@dsx:hs", **SECRETS},
            "matrix_accounts": [{"user_id": "@dsx2:hs2", **SECRETS}],
            "sealing": {"public_key_file": "/k/sealing.pub", "private_key_file": "/p/sealing.key"},
            "staff": {"members": ["@ana:hs"]},
        },
        "<test>",
        env={},
    )


def test_the_web_role_keeps_none_of_the_bots_secrets_and_names_what_it_dropped():
    conf = _with_secrets()
    web, dropped = cfg.for_web_role(conf)
    assert "pw-canary" not in repr(web) and "tok-canary" not in repr(web)
    assert "pk-canary" not in repr(web) and "/p/sealing.key" not in repr(web)
    assert set(dropped) == {
        *(f"matrix.{k}" for k in SECRETS),
        *(f"matrix_accounts[0].{k}" for k in SECRETS),
        "sealing.private_key_file",
    }
    # Resolved accounts (a further one falls back to the primary's pickle key) too.
    assert all(not a.pickle_key and not a.password for a in web.accounts)
    # Everything else is the same configuration.
    assert web.sealing.public_key_file == conf.sealing.public_key_file
    assert web.staff == conf.staff and web.matrix.user_id == conf.matrix.user_id
    assert (
        dataclasses.replace(
            web, matrix=conf.matrix, matrix_accounts=conf.matrix_accounts, sealing=conf.sealing
        )
        == conf
    )
    # Nothing to drop: nothing said.
    assert cfg.for_web_role(web)[1] == ()


def test_run_role_web_without_a_public_key_stops_in_one_line(tmp_path, capsys):
    conf = tmp_path / "dsx.toml"
    conf.write_text(f'data_dir = "{tmp_path}"\n[staff]\nroom = "!s:hs"\nmembers = ["@a:hs"]\n')
    (tmp_path / "keys").mkdir()
    from coordinator import audit_key

    audit_key.create(tmp_path / "keys" / audit_key.KEY_FILE)
    assert main(["run", "--role", "web", "--config", str(conf)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "dsx run: --role web serves the request forms: set [sealing] public_key_file"


def test_run_refuses_an_unknown_role(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--role", "everything", "--config", str(tmp_path / "dsx.toml")])
    assert stopped.value.code == 2
    assert "invalid choice: 'everything'" in capsys.readouterr().err


OK = SyncState(syncs=3, failures=0, seconds_since_success=1.0)
FAILING = SyncState(syncs=0, failures=4, seconds_since_success=None)


async def test_readiness_per_role(db_url):
    """A dead message makes the bot role not ready, never the web role (it only queues)."""
    await migrate(db_url)
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await store.enqueue(conn, room="!r:hs", kind="message", content={}, now=utcnow())
            await conn.execute(outbox.update().values(state="dead"))
        web = await Probe(engine, lambda: {"0": FAILING}, role="web").readiness()
        assert web.ready and [c.name for c in web.checks] == ["database"]
        assert web.to_dict()["role"] == "web"
        bot = await Probe(engine, lambda: {"0": OK}, role="bot").readiness()
        assert not bot.ready and bot.to_dict()["role"] == "bot"
        assert [c.name for c in bot.checks] == ["database", "outbox", "sync account 0"]
    finally:
        await engine.dispose()


def test_web_processes_share_rate_limits_without_keeping_the_pickle_key():
    """The rate-limit key is derived one-way from the pickle key before it is dropped, so
    every web process of the deployment counts alike (dsx/web/settings.py)."""
    from dsx.service import web_role
    from dsx.web.settings import rate_secret

    conf = _with_secrets()
    stripped, dropped, settings = web_role(conf)
    assert "matrix.pickle_key" in dropped and not stripped.matrix.pickle_key
    assert settings.rate_secret == rate_secret(conf.matrix.pickle_key)
    assert web_role(conf)[2].rate_secret == settings.rate_secret  # a second process
    assert SECRETS["pickle_key"] not in repr(settings)
