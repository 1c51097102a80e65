"""The `dsx` command: lists its commands, fails clearly where something is not built yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from coordinator.cli.main import COMMANDS, main


def run_dsx(*args: str) -> subprocess.CompletedProcess[str]:
    dsx = Path(sys.executable).with_name("dsx")
    return subprocess.run([str(dsx), *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_command():
    result = run_dsx("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_config_check_names_the_bad_key(tmp_path):
    bad = tmp_path / "dsx.toml"
    bad.write_text("[matrix]\npasword = 'x'\n")
    result = run_dsx("config", "check", "--config", str(bad))
    assert result.returncode == 2
    assert "matrix.pasword" in result.stderr and str(bad) in result.stderr


def test_config_check_hides_secrets(tmp_path, capsys):
    good = tmp_path / "dsx.toml"
    good.write_text("[matrix]\npassword = 'hunter2hunter2'\n[staff]\nmembers = ['@ana:hs']\n")
    assert main(["config", "check", "--config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and '"password": "***"' in out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
