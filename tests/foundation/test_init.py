"""`dsx init` writes a valid config and keys with safe permissions, and never overwrites."""

from __future__ import annotations

import io
import stat

from coordinator import audit_key
from coordinator import config as cfg
from coordinator.sealing import Binding, load_private_key, load_public_key
from dsx.cli.main import main

STAFF = "@ana:example.org"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_a_loadable_config_and_working_keys(tmp_path, capsys):
    conf_path = tmp_path / "dsx.toml"
    data = tmp_path / "data"
    args = ["init", "--config", str(conf_path), "--data-dir", str(data), "--staff", STAFF]
    assert main(args) == 0
    conf = cfg.load(conf_path, env={})
    assert conf.staff.members == (STAFF,)
    assert "--staff" not in capsys.readouterr().err
    assert mode(conf_path) == 0o600
    assert len(conf.matrix.pickle_key) >= 32
    assert mode(data / "keys") == 0o700
    # The private half lives apart from the public one, in an owner-only folder.
    private = data / "private" / "sealing.key"
    assert mode(private) == 0o600 and mode(private.parent) == 0o700
    assert not (data / "keys" / "sealing.key").exists()
    assert conf.sealing.public_key_file == str(data / "keys" / "sealing.pub")
    assert conf.web.user == ""
    assert conf.sealing.private_key_file == str(private)
    # The generated pair works: seal with the public file, open with the private one.
    sealer = load_public_key(conf.sealing.public_key_file)
    row = Binding("o1", "org", "name")
    blob = sealer.seal("canary-organization", row)
    assert load_private_key(private).open(blob, row) == b"canary-organization"
    # The audit key sits beside them, owner-only, and pins no chain (a new deployment).
    key_file = data / "keys" / "audit.key"
    assert conf.audit.key_file == str(key_file) and mode(key_file) == 0o600
    key = audit_key.read(key_file)
    assert key.legacy_entries == 0 and key == audit_key.require(conf)
    assert key.secret.hex() not in repr(key)


def test_init_refuses_to_overwrite(tmp_path, capsys):
    conf_path = tmp_path / "dsx.toml"
    args = ["init", "--config", str(conf_path), "--data-dir", str(tmp_path / "d"), "--staff", STAFF]
    assert main(args) == 0
    before = conf_path.read_bytes()
    assert main(args) == 2
    assert conf_path.read_bytes() == before
    assert "refusing" in capsys.readouterr().err


def test_init_rejects_a_bad_user_id_and_leaves_nothing(tmp_path, capsys):
    """All or nothing: a rejected value leaves no config and no keys, so the retry works."""
    conf_path, data = tmp_path / "dsx.toml", tmp_path / "data"
    args = ["init", "--config", str(conf_path), "--data-dir", str(data), "--staff", STAFF]
    assert main([*args, "--user", "dsx-bot"]) == 2
    assert "matrix.user_id" in capsys.readouterr().err
    assert not conf_path.exists() and not data.exists()
    assert main([*args, "--user", "@dsx-bot:example.org"]) == 0


def test_init_names_what_to_delete_when_keys_exist(tmp_path, capsys):
    conf_path, data = tmp_path / "dsx.toml", tmp_path / "data"
    args = ["init", "--config", str(conf_path), "--data-dir", str(data), "--staff", STAFF]
    assert main(args) == 0
    conf_path.unlink()
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert f"delete {data / 'keys'}" in err and len(err.splitlines()) == 1
    assert not conf_path.exists()


def test_init_prints_every_next_step(tmp_path, capsys):
    conf_path = tmp_path / "dsx.toml"
    args = ["init", "--config", str(conf_path), "--data-dir", str(tmp_path / "d"), "--staff", STAFF]
    assert main(args) == 0
    out = capsys.readouterr().out
    for step in (
        "DSX_MATRIX_PASSWORD",
        "[staff] room",
        "[[partners]]",
        "dsx migrate",
        "dsx doctor",
    ):
        assert step in out, step


def test_init_owner_gives_the_service_user_its_files(tmp_path, capsys):
    """Run as root with ``--owner``, every file and folder init writes belongs to that user."""
    import os
    import pwd

    import pytest

    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    nobody = pwd.getpwnam("nobody")
    conf_path, data = tmp_path / "dsx.toml", tmp_path / "data"
    args = ["init", "--config", str(conf_path), "--data-dir", str(data), "--staff", STAFF]
    assert main([*args, "--owner", "no-such-user-here"]) == 2
    assert "useradd" in capsys.readouterr().err and not data.exists()
    assert main([*args, "--owner", "nobody"]) == 0
    private = data / "private" / "sealing.key"
    for item in (conf_path, data, data / "keys", data / "nio-store", private.parent, private):
        assert item.stat().st_uid == nobody.pw_uid, item
    assert mode(conf_path) == 0o600


def test_init_without_staff_refuses_and_writes_nothing(tmp_path, capsys, monkeypatch):
    """Staff are exactly the listed members, so a config with none is never written."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nobody to ask
    conf_path, data = tmp_path / "dsx.toml", tmp_path / "data"
    assert main(["init", "--config", str(conf_path), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "--staff @you:server" in err and len(err.strip().splitlines()) == 1
    assert not conf_path.exists() and not data.exists()


def test_init_refuses_a_malformed_staff_id(tmp_path, capsys):
    conf_path = tmp_path / "dsx.toml"
    args = ["init", "--config", str(conf_path), "--data-dir", str(tmp_path / "d")]
    assert main([*args, "--staff", "ana"]) == 2
    assert "must look like @name:server" in capsys.readouterr().err
    assert not conf_path.exists()


def test_init_asks_for_staff_on_a_terminal(tmp_path, capsys, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty(STAFF + "\n"))
    monkeypatch.setenv("DSX_MATRIX_PASSWORD", "the-bots-password")
    conf_path = tmp_path / "dsx.toml"
    assert main(["init", "--config", str(conf_path), "--data-dir", str(tmp_path / "d")]) == 0
    assert cfg.load(conf_path, env={}).staff.members == (STAFF,)
    out = capsys.readouterr().out
    assert "[staff]" in out and STAFF in out  # the next steps name the staff list
    assert main(["config", "check", "--config", str(conf_path)]) == 0


def test_config_check_and_run_refuse_an_empty_staff_list(tmp_path, capsys):
    conf_path = tmp_path / "dsx.toml"
    conf_path.write_text(f'data_dir = "{tmp_path}"\n[staff]\nroom = "!s:hs"\nmembers = []\n')
    assert main(["config", "check", "--config", str(conf_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[0] == (
        f"dsx config: {conf_path}: staff.members: is empty: list at least one staff member "
        "(@name:server); only listed members are staff; list staff Matrix ids there"
    )
    assert main(["run", "--config", str(conf_path)]) == 2
    assert "staff.members: is empty" in capsys.readouterr().err
