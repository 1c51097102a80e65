"""What most `dsx` commands share: the ``--config`` option, and loading it or saying why not."""

from __future__ import annotations

import argparse
import sys

from coordinator import config as cfg


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", default=None, help="path to dsx.toml (default: embedded defaults)"
    )


def load_config(command: str, path: str | None) -> cfg.Config | None:
    """The validated configuration, or None once the problem (key and file) is printed;
    the command then exits with status 2."""
    try:
        return cfg.load(path)
    except cfg.ConfigError as exc:
        print(f"dsx {command}: {exc}", file=sys.stderr)
        return None
