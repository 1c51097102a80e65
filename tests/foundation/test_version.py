"""The version comes from the git tag (pyproject.toml, ``[tool.setuptools_scm]``), and a
fresh clone, a clone without tags or a copy without git history still gets a valid one;
``dsx --version`` prints what the package says (docs/operator.md, "Upgrading")."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

import coordinator
from coordinator import version as version_module

ROOT = Path(__file__).resolve().parents[2]


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _scm_version(root: Path) -> str:
    """What a build (``pip install``) of ``root`` would call itself."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "setuptools_scm",
            "--root",
            str(root),
            "-c",
            str(root / "pyproject.toml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh clone of this repository's committed state, as CI makes one."""
    target = tmp_path / "clone"
    _git(tmp_path, "clone", "--quiet", "--no-tags", str(ROOT), str(target))
    return target


def test_a_tag_is_the_version_and_later_commits_count_from_it(clone: Path):
    _git(clone, "tag", "v7.3.1")
    assert _scm_version(clone) == "7.3.1"
    (clone / "touched.txt").write_text("x")
    _git(clone, "add", "touched.txt")
    _git(clone, "commit", "--quiet", "-m", "after the tag")
    later = Version(_scm_version(clone))
    assert later > Version("7.3.1") and later.is_devrelease and later.base_version == "7.3.2"


def test_a_clone_without_tags_still_has_a_valid_version(clone: Path):
    assert _git(clone, "tag") == ""
    found = Version(_scm_version(clone))  # raises if not a PEP 440 version
    assert found.is_devrelease and found.local and found.local.startswith("g")


def test_a_copy_without_git_history_gets_the_fallback(tmp_path: Path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _scm_version(tmp_path) == "0.0.0"


def test_a_copy_with_pkg_info_keeps_its_version(tmp_path: Path):
    """How the /source archive (it carries PKG-INFO) builds with the version it ran."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: dsx-coordinator\nVersion: 4.5.6\n"
    )
    assert _scm_version(tmp_path) == "4.5.6"


def test_dsx_version_prints_the_package_version():
    done = subprocess.run(
        [sys.executable, "-m", "dsx", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"dsx {coordinator.__version__}"
    Version(coordinator.__version__)


def test_the_runtime_prefers_the_built_version_file(tmp_path: Path, monkeypatch):
    """``coordinator/_version.py`` (written by the build) wins over stale metadata; without
    either the version is still valid."""
    package = tmp_path / "coordinator"
    package.mkdir()
    (package / "_version.py").write_text('version = "9.9.9"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(coordinator, "__path__", [str(package), *coordinator.__path__])
    sys.modules.pop("coordinator._version", None)
    try:
        assert version_module.current() == "9.9.9"
    finally:
        sys.modules.pop("coordinator._version", None)
    monkeypatch.setattr(
        coordinator, "__path__", [p for p in coordinator.__path__ if p != str(package)]
    )
    monkeypatch.setattr(version_module, "DISTRIBUTION", "dsx-no-such-distribution")
    if not (Path(coordinator.__file__).parent / "_version.py").exists():
        assert version_module.current() == version_module.UNKNOWN
    Version(version_module.UNKNOWN)
