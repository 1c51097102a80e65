"""The configuration checked as a whole (coordinator/deployment.py): one function behind
`dsx config check` and `dsx doctor`, each check with a case that trips it."""

from __future__ import annotations

import dataclasses
import os
import pwd
import socket

import pytest

from coordinator import config as cfg
from coordinator.deployment import Level, check_deployment
from coordinator.sealing import write_keypair
from dsx.cli.doctor import Status, check_homeserver, check_sealing_keys, check_settings
from dsx.cli.explain import explain

STAFF = "@ana:example.org"


def complete(tmp_path) -> cfg.Config:
    """A configuration nothing is missing from (the baseline every case breaks once)."""
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    public, private = write_keypair(keys)
    path = tmp_path / "dsx.toml"
    path.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[matrix]\nuser_id = "@dsx:example.org"\npassword = "pw"\n'
        'pickle_key = "a-long-random-pickle-key"\n'
        f'[staff]\nroom = "!staff:example.org"\nmembers = ["{STAFF}"]\n'
        '[policy]\nglobal_partner = "aid"\n'
        '[[partners]]\nhandle = "aid"\nrooms = ["!aid:example.org"]\nmembers = ["@m:e.org"]\n'
        '[emergency]\nsignal = "+1 555 0100"\n'
        f'[sealing]\npublic_key_file = "{public}"\nprivate_key_file = "{private}"\n'
    )
    path.chmod(0o600)
    return cfg.load(path, env={})


def keys_of(conf: cfg.Config, level: Level | None = None) -> set[str]:
    return {p.key for p in check_deployment(conf) if level is None or p.level is level}


def test_a_complete_configuration_has_no_problem(tmp_path):
    assert check_deployment(complete(tmp_path)) == []


@pytest.mark.parametrize(
    ("change", "key", "level"),
    [
        (
            lambda c: dataclasses.replace(c, staff=cfg.StaffConfig(room="!s:e")),
            "staff.members",
            Level.ERROR,
        ),
        (
            lambda c: dataclasses.replace(c, staff=cfg.StaffConfig(members=(STAFF,))),
            "staff.room",
            Level.WARNING,
        ),
        (
            lambda c: dataclasses.replace(c, partners=(), policy=cfg.PolicyConfig()),
            "partners",
            Level.WARNING,
        ),
        (
            lambda c: dataclasses.replace(c, policy=cfg.PolicyConfig(global_partner="nobody")),
            "policy.global_partner",
            Level.ERROR,
        ),
        (
            lambda c: dataclasses.replace(c, matrix=dataclasses.replace(c.matrix, password="")),
            "matrix.password",
            Level.ERROR,
        ),
        (
            lambda c: dataclasses.replace(c, matrix=dataclasses.replace(c.matrix, pickle_key="")),
            "matrix.pickle_key",
            Level.ERROR,
        ),
        (
            lambda c: dataclasses.replace(c, emergency=cfg.EmergencyConfig()),
            "emergency",
            Level.WARNING,
        ),
        (
            lambda c: dataclasses.replace(c, sealing=cfg.SealingConfig()),
            "sealing.public_key_file",
            Level.WARNING,
        ),
    ],
)
def test_each_cross_field_check(tmp_path, change, key, level):
    broken = change(complete(tmp_path))
    assert [p.key for p in check_deployment(broken)] == [key]
    assert keys_of(broken, level) == {key}


def test_an_access_token_or_a_stored_session_stands_in_for_the_password(tmp_path):
    conf = complete(tmp_path)
    token = dataclasses.replace(conf.matrix, password="", access_token="syt_x")
    assert check_deployment(dataclasses.replace(conf, matrix=token)) == []
    store = tmp_path / "nio-store"
    store.mkdir()
    (store / "session.sealed").write_bytes(b"x")
    no_pw = dataclasses.replace(conf.matrix, password="")
    assert check_deployment(dataclasses.replace(conf, matrix=no_pw)) == []


def test_key_files_missing_open_or_unreadable(tmp_path):
    conf = complete(tmp_path)
    private = conf.sealing.private_key_file
    os.chmod(private, 0o644)
    (problem,) = check_deployment(conf)
    assert problem.key == "sealing.private_key_file" and problem.fix == f"chmod 600 {private}"
    os.chmod(private, 0o600)
    os.chmod(tmp_path / "keys", 0o755)
    assert "chmod 700" in check_deployment(conf)[0].fix
    os.chmod(tmp_path / "keys", 0o700)
    os.unlink(private)  # the public key is still there: this key was lost, not never made
    (lost,) = check_deployment(conf)
    assert lost.level is Level.ERROR and "restore it from the backup" in lost.fix


def test_a_fresh_install_is_not_told_to_restore_a_backup(tmp_path):
    """The example config names keys nobody generated yet: the advice is `dsx init`."""
    conf = complete(tmp_path)
    for name in ("sealing.key", "sealing.pub"):
        (tmp_path / "keys" / name).unlink()
    problems = check_deployment(conf)
    assert {p.key for p in problems} == {"sealing.public_key_file", "sealing.private_key_file"}
    assert all("`dsx init` generates the pair" in p.fix for p in problems)
    (line,) = [r for r in check_sealing_keys(conf, problems) if r.name == "sealing private key"]
    assert line.status is Status.FAIL and "dsx init" in line.fix


def test_the_service_user_must_be_able_to_read_the_config(tmp_path):
    """`dsx init` as root without --owner: the data belongs to the service user, the file
    to root (mode 0600), and the service could not start."""
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    conf = complete(tmp_path)
    nobody = pwd.getpwnam("nobody")
    os.chown(tmp_path, nobody.pw_uid, nobody.pw_gid)
    (problem,) = check_deployment(conf)
    assert problem.level is Level.ERROR and problem.fix == f"chown nobody: {conf.source}"
    os.chown(conf.source, nobody.pw_uid, nobody.pw_gid)
    assert check_deployment(conf) == []


def test_config_check_and_doctor_say_the_same(tmp_path, capsys):
    from dsx.cli.main import main

    conf = complete(tmp_path)
    broken = conf.source.replace("dsx.toml", "broken.toml")
    text = open(conf.source).read().replace('global_partner = "aid"', 'global_partner = "x"')
    with open(broken, "w") as f:
        f.write(text)
    os.chmod(broken, 0o600)
    assert main(["config", "check", "--config", broken]) == 2
    err = capsys.readouterr().err
    assert "policy.global_partner: names 'x'" in err and len(err.strip().splitlines()) == 1
    results = check_settings(check_deployment(cfg.load(broken, env={})))
    assert [r.status for r in results] == [Status.FAIL]
    assert "policy.global_partner: names 'x'" in results[0].detail


async def test_doctor_says_in_words_why_the_homeserver_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = cfg.Config(matrix=cfg.MatrixConfig(homeserver_url=f"http://127.0.0.1:{port}"))
    refused = await check_homeserver(conf)
    assert "connection refused: nothing listens" in refused.detail
    assert "Error" not in refused.detail
    nowhere = cfg.Config(matrix=cfg.MatrixConfig(homeserver_url="http://no-such-host.invalid"))
    assert "does not resolve" in (await check_homeserver(nowhere)).detail


def test_explain_knows_the_database_drivers_errors():
    import asyncpg

    assert explain(asyncpg.InvalidPasswordError("x")) == "the database refused the password"
    assert explain(asyncpg.InvalidCatalogNameError("x")).endswith("does not exist")
    assert "unexpected error (KeyError)" in explain(KeyError("secret"))


async def test_doctor_says_in_words_why_the_database_is_unreachable():
    from dsx.cli.doctor import check_database

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+asyncpg://dsx:pw-secret@127.0.0.1:{port}/dsx"
    result = await check_database(cfg.Config(database=cfg.DatabaseConfig(url=url)))
    assert result.status is Status.FAIL
    assert "connection refused: nothing listens" in result.detail, result.detail
    assert "pw-secret" not in result.line()
