"""Every ``dsx`` command and sub-command says in ``--help`` what it is for and shows an
example, and every example is a command line the parser accepts (docs/operator.md,
"When something is wrong")."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from dsx.cli import usage
from dsx.cli.main import build_parser


def commands() -> list[str]:
    found: list[str] = []

    def walk(parser, prefix: str) -> None:
        for name, child in usage._subparsers(parser).items():
            found.append(f"{prefix}{name}")
            walk(child, f"{prefix}{name} ")

    walk(build_parser(), "")
    return found


def test_every_command_has_its_usage_and_no_usage_names_a_missing_one():
    assert sorted(commands()) == sorted(usage.USAGE)


@pytest.mark.parametrize("command", sorted(usage.USAGE))
def test_each_example_parses_as_its_own_command(command):
    _description, examples = usage.USAGE[command]
    assert examples
    for example in examples:
        words = shlex.split(example)
        assert words[0] == "dsx" and " ".join(words[1:]).startswith(command), example
        args = build_parser().parse_args(words[1:])  # exits (SystemExit) if it does not parse
        assert getattr(args, "func", None) is not None, example


def test_help_shows_the_description_and_examples():
    done = subprocess.run(
        [sys.executable, "-m", "dsx", "outbox", "retry", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert usage.USAGE["outbox retry"][0].split()[0] in done.stdout
    assert "examples:\n  dsx outbox retry --dead" in done.stdout
