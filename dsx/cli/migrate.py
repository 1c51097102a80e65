"""`dsx migrate`: apply database migrations."""

from __future__ import annotations

import argparse
import asyncio

from dsx.cli.options import add_config, load_config


def register(sub) -> None:
    p = sub.add_parser("migrate", help="apply database migrations")
    add_config(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from coordinator.store import head_revision, migrate

    conf = load_config("migrate", args.config)
    if conf is None:
        return 2
    if conf.database_url.startswith("sqlite"):
        from pathlib import Path

        Path(conf.data_dir).mkdir(parents=True, exist_ok=True)
    revision = asyncio.run(migrate(conf.database_url))
    print(f"dsx migrate: database at revision {revision} (head {head_revision()})")
    return 0
