"""A failed `dsx` command says what is wrong and what to do in a line or two, exits
non-zero, and never shows a traceback or a password (docs/operator.md, "When something
is wrong")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from coordinator import audit_key

SECRET = "pw-canary-9d1"
COMMANDS = [
    ("migrate",),
    ("outbox", "list"),
    ("outbox", "retry", "--dead"),
    ("audit", "verify"),
    ("config", "check"),
    ("doctor",),
    ("run",),
]


def _dsx(cwd: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSX_")}
    return subprocess.run(
        [sys.executable, "-m", "dsx", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _short(result: subprocess.CompletedProcess[str], *, lines: int = 2) -> str:
    err = result.stderr.strip()
    assert result.returncode != 0, (result.stdout, err)
    assert "Traceback" not in err + result.stdout, err
    assert SECRET not in err + result.stdout
    assert 1 <= len(err.splitlines()) <= lines, err
    return err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_without_a_config_it_says_how_to_give_one(tmp_path, command):
    if command == ("doctor",):  # doctor prints its checklist on stdout
        result = _dsx(tmp_path, *command)
        assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
        assert "--config" in result.stdout and "DSX_CONFIG" in result.stdout
        return
    err = _short(_dsx(tmp_path, *command))
    assert "--config" in err and "DSX_CONFIG" in err and "dsx init" in err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_broken_config_names_the_key_and_file(tmp_path, command):
    bad = tmp_path / "dsx.toml"
    bad.write_text("[database]\nulr = 'x'\n")
    result = _dsx(tmp_path, *command)  # found as ./dsx.toml
    out = result.stderr if command != ("doctor",) else result.stdout
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert "database.ulr" in out and "dsx.toml" in out


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c not in {("doctor",), ("config", "check")}], ids=" ".join
)
def test_with_the_database_down_it_says_so(tmp_path, command):
    conf = tmp_path / "prod.toml"
    conf.write_text(
        f'data_dir = "{tmp_path}"\n'
        f'[database]\nurl = "postgresql://dsx:{SECRET}@127.0.0.1:{_closed_port()}/dsx"\n'
        "[staff]\nmembers = ['@staff:hs.example']\n"
    )
    (tmp_path / "keys").mkdir()
    audit_key.create(tmp_path / "keys" / "audit.key")  # what `dsx init` writes
    err = _short(_dsx(tmp_path, *command, "--config", str(conf)))
    assert "cannot reach the database" in err and "dsx doctor" in err, err


def test_dsx_config_environment_variable_is_used(tmp_path):
    conf = tmp_path / "elsewhere.toml"
    conf.write_text("[database]\nulr = 'x'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSX_")}
    env["DSX_CONFIG"] = str(conf)
    result = subprocess.run(
        [sys.executable, "-m", "dsx", "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "elsewhere.toml" in result.stderr
