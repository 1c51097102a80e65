"""`dsx outbox`: see messages that have not reached their room, and send the dead again.

A row is given up on ("dead") after 12 failures that were its own fault (a room the bot
cannot post in, say); a homeserver outage never counts. Once the cause is fixed,
`dsx outbox retry --dead` queues them again; `dsx run` sends them within a second. Only
ids, rooms, kinds and error codes are shown: never message content.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from coordinator.audit_key import AuditKeyError
from coordinator.config import Config
from dsx.cli.options import add_config, load_config


def register(sub) -> None:
    p = sub.add_parser("outbox", help="list undelivered messages; send dead ones again")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="messages still waiting or given up on")
    listing.add_argument("--dead", action="store_true", help="only those given up on")
    retry = actions.add_parser("retry", help="queue dead messages again")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], help="message ids (from `dsx outbox list`)")
    which.add_argument("--dead", action="store_true", help="every dead message")
    for parser in (listing, retry):
        add_config(parser)
    p.set_defaults(func=run)


async def _list(url: str, dead_only: bool) -> int:
    from coordinator.store import create_engine
    from coordinator.store.outbox import stuck

    engine = create_engine(url)
    try:
        rows = await stuck(engine, dead_only=dead_only)
    finally:
        await engine.dispose()
    if not rows:
        print("dsx outbox: nothing " + ("dead" if dead_only else "waiting or dead"))
        return 0
    print(f"{'id':<26} {'state':<8} {'tries':>5}  {'error':<28} {'queued (UTC)':<20} room")
    for r in rows:
        queued = r.created_at.strftime("%Y-%m-%d %H:%M:%S")
        error = r.error_code or "-"
        print(f"{r.id:<26} {r.state:<8} {r.attempts:>5}  {error:<28} {queued:<20} {r.room}")
    dead = sum(1 for r in rows if r.state == "dead")
    print(f"dsx outbox: {len(rows) - dead} waiting, {dead} dead")
    return 0


async def _retry(conf: Config, ids: list[str] | None) -> list[str]:
    from coordinator.audit import AuditRecord, append
    from coordinator.audit_key import for_config
    from coordinator.store import create_engine
    from coordinator.store.clock import utcnow
    from coordinator.store.outbox import requeue_dead

    engine = create_engine(conf.database_url)
    try:
        key = await for_config(conf, engine)
        async with engine.begin() as conn:
            now = utcnow()
            found = await requeue_dead(conn, ids, now)
            if found:
                await append(
                    conn,
                    [AuditRecord("operator", "outbox.requeued", m) for m in found],
                    now,
                    key,
                )
            return found
    finally:
        await engine.dispose()


def run(args: argparse.Namespace) -> int:
    conf = load_config("outbox", args.config)
    if conf is None:
        return 2
    if args.action == "list":
        return asyncio.run(_list(conf.database_url, args.dead))
    wanted = None if args.dead else list(args.ids)
    try:
        found = asyncio.run(_retry(conf, wanted))
    except AuditKeyError as exc:
        print(f"dsx outbox: {exc}", file=sys.stderr)
        return 2
    missing = sorted(set(wanted or []) - set(found))
    for message_id in missing:
        print(f"dsx outbox: {message_id} is not a dead message (see `dsx outbox list`)")
    print(f"dsx outbox: {len(found)} queued again; `dsx run` sends them within a second")
    return 1 if missing else 0
