"""``dsx doctor``'s advice on a fresh install made from the shipped example: every missing
key is one that ``dsx init`` generates, so that comes first, before any talk of backups
(docs/operator.md, "Install on a server")."""

from __future__ import annotations

import tomllib
from pathlib import Path

from coordinator.config import parse
from dsx.cli.doctor import Status, check_audit_key, check_sealing_keys

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "dsx.example.toml"


def fresh_install(tmp_path: Path):
    document = tomllib.loads(EXAMPLE.read_text())
    keys = tmp_path / "keys"  # the example's folder, on a machine where it does not exist
    document["data_dir"] = str(tmp_path)
    document["sealing"]["public_key_file"] = str(keys / "sealing.pub")
    document["sealing"]["private_key_file"] = str(keys / "sealing.key")
    document.setdefault("audit", {})["key_file"] = str(keys / "audit.key")
    return parse(document, str(tmp_path / "dsx.toml"), env={})


def test_missing_keys_on_a_fresh_install_point_to_dsx_init_first(tmp_path):
    conf = fresh_install(tmp_path)
    results = [*check_sealing_keys(conf), check_audit_key(conf)]
    assert len(results) == 3
    for result in results:
        assert result.status is Status.FAIL
        assert result.fix.startswith("on a new install `dsx init` generates"), result.line()
