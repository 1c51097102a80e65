"""The arrows run one way (docs/architecture.md): dsx → partner_bots → coordinator → trust_graph.

Read from the source with ``ast``, so an import inside a function counts as much as one
at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# For each package, what it must never import (directly or inside a function).
FORBIDDEN = {
    "trust_graph": {"coordinator", "partner_bots", "dsx", "nio", "aiohttp", "sqlalchemy"},
    "coordinator": {"partner_bots", "dsx", "nio", "aiohttp"},
    "partner_bots": {"dsx"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text(
        "def f():\n    from partner_bots.bot import Bot\n    import aiohttp.web\n"
        "    importlib.import_module('dsx.cli')\n"
    )
    assert imported_roots(sample) == {"partner_bots", "aiohttp", "dsx"}


def _calls(path: Path, attr: str) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == attr
    ]


# Rows the core writes that are work for the Matrix side, never content: create a room,
# open a submission's sealed details there, clean an engagement room up.
WORK_ROWS = {"create_room", "INTAKE_DETAILS", "ROOM_CLEANUP"}


def _kind(call: ast.Call) -> str | None:
    for k in call.keywords:
        if k.arg == "kind":
            if isinstance(k.value, ast.Constant):
                return str(k.value.value)
            if isinstance(k.value, ast.Name):
                return k.value.id
    return None


def test_the_core_queues_notifications_never_matrix_content() -> None:
    """The seam (docs/architecture.md): a use case queues a typed notification
    (``tx.notify``); the only other rows the core writes are work orders (a room to
    create, sealed details to open, a room to clean up)."""
    raw = []
    for path in sorted((ROOT / "coordinator").rglob("*.py")):
        for call in _calls(path, "send"):
            if _kind(call) not in WORK_ROWS:
                raw.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert raw == [], raw


def test_no_adapter_rewrites_the_outbox() -> None:
    """The Matrix side and the web never update an outbox row's content (they read the
    typed value and render it; the outbox's own methods mark rows sent or failed)."""
    offenders = []
    for package in ("partner_bots", "dsx"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "outbox.update(" in path.read_text(encoding="utf-8"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], offenders
