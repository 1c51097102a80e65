"""The running version: the git tag it was built from (``[tool.setuptools_scm]`` in
pyproject.toml), so ``dsx --version``, ``/healthz`` and ``/source`` name the same release.

The build writes ``coordinator/_version.py``; without it (code on ``PYTHONPATH`` that was
never built) the installed distribution's metadata is used, and without either
``UNKNOWN``, which still parses as a version.
"""

from __future__ import annotations

import importlib
from importlib import metadata

DISTRIBUTION = "dsx-coordinator"
UNKNOWN = "0+unknown"


def current() -> str:
    try:
        return str(importlib.import_module("coordinator._version").version)
    except (ImportError, AttributeError):
        pass
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN
