"""`dsx audit verify`: verify the hash-chained audit log."""

from __future__ import annotations

import argparse
import asyncio
import sys

from coordinator import config as cfg


def register(sub) -> None:
    p = sub.add_parser("audit", help="verify the hash-chained audit log")
    p.add_argument("action", choices=["verify"], help="verify: check every link of the chain")
    p.add_argument("--config", "-c", default=None, help="path to dsx.toml (default: defaults)")
    p.set_defaults(func=run)


async def _verify(url: str):
    from coordinator import audit
    from coordinator.store import create_engine

    engine = create_engine(url)
    try:
        broken = await audit.verify(engine)
        count = await audit.count(engine)
        return broken, count
    finally:
        await engine.dispose()


def run(args: argparse.Namespace) -> int:
    try:
        conf = cfg.load(args.config)
    except cfg.ConfigError as exc:
        print(f"dsx audit: {exc}", file=sys.stderr)
        return 2
    broken, count = asyncio.run(_verify(conf.database_url))
    if broken is not None:
        print(f"dsx audit verify: BROKEN at {broken}", file=sys.stderr)
        return 1
    print(f"dsx audit verify: chain intact ({count} entries)")
    return 0
