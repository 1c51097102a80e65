"""`dsx init` writes a valid config and keys with safe permissions, and never overwrites."""

from __future__ import annotations

import stat

from coordinator import audit_key
from coordinator import config as cfg
from coordinator.cli.main import main
from coordinator.sealing import load_private_key, load_public_key


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_a_loadable_config_and_working_keys(tmp_path, capsys):
    conf_path = tmp_path / "dsx.toml"
    data = tmp_path / "data"
    assert main(["init", "--config", str(conf_path), "--data-dir", str(data)]) == 0
    conf = cfg.load(conf_path, env={})
    assert mode(conf_path) == 0o600
    assert len(conf.matrix.pickle_key) >= 32
    assert mode(data / "keys") == 0o700
    private = data / "keys" / "sealing.key"
    assert mode(private) == 0o600
    assert conf.sealing.private_key_file == str(private)
    # The generated pair works: seal with the public file, open with the private one.
    sealer = load_public_key(conf.sealing.public_key_file)
    blob = sealer.seal("canary-organization")
    assert load_private_key(private).open(blob) == b"canary-organization"
    # The audit key sits beside them, owner-only, and pins no chain (a new deployment).
    key_file = data / "keys" / "audit.key"
    assert conf.audit.key_file == str(key_file) and mode(key_file) == 0o600
    key = audit_key.read(key_file)
    assert key.legacy_entries == 0 and key == audit_key.require(conf)
    assert key.secret.hex() not in repr(key)


def test_init_refuses_to_overwrite(tmp_path, capsys):
    conf_path = tmp_path / "dsx.toml"
    args = ["init", "--config", str(conf_path), "--data-dir", str(tmp_path / "d")]
    assert main(args) == 0
    before = conf_path.read_bytes()
    assert main(args) == 2
    assert conf_path.read_bytes() == before
    assert "refusing" in capsys.readouterr().err


def test_init_rejects_a_bad_user_id_and_leaves_no_config(tmp_path, capsys):
    conf_path = tmp_path / "dsx.toml"
    rc = main(["init", "--config", str(conf_path), "--data-dir", str(tmp_path), "--user", "bot"])
    assert rc == 2 and not conf_path.exists()
    assert "matrix.user_id" in capsys.readouterr().err
