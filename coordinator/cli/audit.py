"""`dsx audit verify`: verify the hash-chained audit log."""

from __future__ import annotations

import argparse
import asyncio
import sys

from coordinator.cli.options import add_config, load_config


def register(sub) -> None:
    p = sub.add_parser("audit", help="verify the hash-chained audit log")
    p.add_argument("action", choices=["verify"], help="verify: check every link of the chain")
    add_config(p)
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
    conf = load_config("audit", args.config)
    if conf is None:
        return 2
    broken, count = asyncio.run(_verify(conf.database_url))
    if broken is not None:
        print(f"dsx audit verify: BROKEN at {broken}", file=sys.stderr)
        return 1
    print(f"dsx audit verify: chain intact ({count} entries)")
    return 0
