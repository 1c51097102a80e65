"""The `dsx` command: lists its commands, fails clearly where something is not built yet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dsx.cli.main import COMMANDS, main


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
    good.write_text(
        "[matrix]\npassword = 'hunter2hunter2'\npickle_key = 'a-long-random-pickle-key'\n"
        "user_id = '@dsx:hs.example'\n"
        "[staff]\nmembers = ['@ana:hs']\n"
    )
    assert main(["config", "check", "--config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and '"password": "***"' in out


def test_config_check_hides_the_password_inside_a_database_url(tmp_path):
    good = tmp_path / "dsx.toml"
    good.write_text(
        "[database]\nurl = 'postgresql+asyncpg://dsx:s3cr%40t-pw@db.internal:5432/dsx'\n"
        "[matrix]\nhomeserver_url = 'https://bot:hs-secret@hs.example'\n"
        "password = 'pw'\npickle_key = 'a-long-random-pickle-key'\nuser_id = '@dsx:hs.example'\n"
        "[staff]\nmembers = ['@staff:hs.example']\n"
    )
    result = run_dsx("config", "check", "--config", str(good))
    assert result.returncode == 0, result.stderr
    assert "s3cr" not in result.stdout and "hs-secret" not in result.stdout
    assert '"url": "postgresql+asyncpg://dsx:***@db.internal:5432/dsx"' in result.stdout
    assert "https://bot:***@hs.example" in result.stdout
    # The same from the environment, and a URL without a password stays as it is.
    env = {**os.environ, "DSX_DATABASE_URL": "postgresql://ops:env-secret@db/dsx"}
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("dsx")), "config", "check", "--config", str(good)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    ).stdout
    assert "env-secret" not in shown and "postgresql://ops:***@db/dsx" in shown
    good.write_text(
        "[database]\nurl = 'postgresql://dsx@db.internal/dsx'\n"
        "[matrix]\npassword = 'pw'\npickle_key = 'a-long-random-pickle-key'\n"
        "user_id = '@dsx:hs.example'\n"
        "[staff]\nmembers = ['@staff:hs.example']\n"
    )
    assert (
        '"url": "postgresql://dsx@db.internal/dsx"'
        in run_dsx("config", "check", "--config", str(good)).stdout
    )


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_python_dash_m_dsx_is_the_dsx_command():
    result = subprocess.run(
        [sys.executable, "-m", "dsx", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "DSX coordinator" in result.stdout
    for name in COMMANDS:
        assert name in result.stdout
