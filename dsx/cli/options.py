"""What most `dsx` commands share: finding the configuration, loading it or saying why not.

Every sub-command finds its configuration the same way: ``--config FILE``, else the
``DSX_CONFIG`` environment variable, else ``./dsx.toml``. Commands that act on a
production deployment refuse to guess beyond that; only the demo and ``config check
--defaults`` use the embedded defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from coordinator import config as cfg

ENV_VAR = "DSX_CONFIG"
DEFAULT_FILE = "dsx.toml"


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        default=None,
        metavar="FILE",
        help=f"path to dsx.toml (default: ${ENV_VAR}, else ./{DEFAULT_FILE})",
    )


def find_config(path: str | None) -> str | None:
    """The configuration file to use, by the one rule above; None when there is none."""
    if path:
        return path
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    if Path(DEFAULT_FILE).is_file():
        return DEFAULT_FILE
    return None


def load_config(command: str, path: str | None, *, defaults: bool = False) -> cfg.Config | None:
    """The validated configuration, or None once the problem (key and file) is printed;
    the command then exits with status 2. With ``defaults`` a missing file means the
    embedded defaults instead of an error."""
    found = find_config(path)
    if found is None and not defaults:
        print(
            f"dsx {command}: no configuration found. Pass --config FILE, set {ENV_VAR}, "
            f"or run where {DEFAULT_FILE} is (`dsx init` writes one).",
            file=sys.stderr,
        )
        return None
    try:
        return cfg.load(found)
    except cfg.ConfigError as exc:
        print(f"dsx {command}: {exc}", file=sys.stderr)
        return None
