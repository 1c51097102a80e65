"""`dsx migrate`: apply database migrations."""

from __future__ import annotations

import argparse
import asyncio
import sys

from coordinator import config as cfg


def register(sub) -> None:
    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--config", "-c", default=None, help="path to dsx.toml (default: defaults)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from coordinator.store import head_revision, migrate

    try:
        conf = cfg.load(args.config)
    except cfg.ConfigError as exc:
        print(f"dsx migrate: {exc}", file=sys.stderr)
        return 2
    if conf.database_url.startswith("sqlite"):
        from pathlib import Path

        Path(conf.data_dir).mkdir(parents=True, exist_ok=True)
    revision = asyncio.run(migrate(conf.database_url))
    print(f"dsx migrate: database at revision {revision} (head {head_revision()})")
    return 0
