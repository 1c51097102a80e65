"""A command is its module and its test: every command module has a test module beside
the others of its group (tests/commands/<group>/test_<name>.py)."""

from __future__ import annotations

from pathlib import Path

from partner_bots.commands import REGISTRY

HERE = Path(__file__).resolve().parent


def test_every_command_module_has_its_own_test():
    missing = []
    for spec in REGISTRY:
        group, name = spec.model.__module__.split(".")[-2:]
        if not (HERE / group / f"test_{name}.py").is_file():
            missing.append(f"{group}/test_{name}.py")
    assert missing == []
