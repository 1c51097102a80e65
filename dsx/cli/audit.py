"""`dsx audit`: verify the keyed audit chain (optionally against an anchor), make its key.

``verify`` needs the audit key (coordinator/audit_key.py) and checks every link; with
``--anchor HASH:COUNT`` (as the staff room shows it) the chain must also still hold
that entry. ``keygen`` makes the key once for a database from before the key existed,
pinning the entries already written. Failures are one or two lines, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from coordinator.audit_key import AuditKeyError
from coordinator.config import Config
from dsx.cli import failure
from dsx.cli.options import add_config, load_config


def register(sub) -> None:
    p = sub.add_parser("audit", help="verify the keyed audit log; make its key")
    p.add_argument(
        "action",
        choices=["verify", "keygen"],
        help="verify: check every link of the chain; keygen: make the audit key for a "
        "database from before it (once)",
    )
    p.add_argument(
        "--anchor",
        default=None,
        metavar="HASH:COUNT",
        help="verify: the chain must still hold this entry (copy it from a staff-room anchor)",
    )
    add_config(p)
    p.set_defaults(func=run)


async def _verify(conf: Config, anchor):
    from coordinator import audit
    from coordinator.audit_key import for_config
    from coordinator.store import create_engine

    engine = create_engine(conf.database_url)
    try:
        key = await for_config(conf, engine)
        broken = await audit.verify(engine, key, anchor)
        return key, broken, await audit.count(engine)
    finally:
        await engine.dispose()


def _verify_command(conf: Config, raw_anchor: str | None) -> int:
    from coordinator.audit import Anchor

    anchor = None
    if raw_anchor is not None:
        try:
            anchor = Anchor.parse(raw_anchor)
        except ValueError as exc:
            print(f"dsx audit verify: --anchor: {exc}", file=sys.stderr)
            return 2
    key, broken, count = asyncio.run(_verify(conf, anchor))
    if broken is not None:
        print(f"dsx audit verify: BROKEN: {broken}", file=sys.stderr)
        good = f"entries 1 to {broken.seq - 1} verify" if broken.seq > 1 else "no entry verifies"
        print(f"dsx audit verify: {good}; see docs/operator.md", file=sys.stderr)
        return 1
    legacy = min(key.legacy_entries, count)
    before = f", the first {legacy} from before the audit key" if legacy else ""
    against = f"; it holds anchor entry {anchor.count}" if anchor else ""
    print(f"dsx audit verify: chain intact ({count} entries{before}){against}")
    return 0


async def _keygen(conf: Config) -> str:
    from coordinator import audit
    from coordinator.audit_key import AuditKey, create, key_path
    from coordinator.store import create_engine, migrate

    path = key_path(conf)
    if path.exists():
        return f"{path} exists; an audit key is never replaced (restore it from backup if lost)"
    await migrate(conf.database_url)
    engine = create_engine(conf.database_url)
    try:
        head = await audit.head(engine)
        # The chain so far must verify as unkeyed entries; then the key pins it.
        probe = AuditKey(b"\0" * 32, head.count, head.hash)
        broken = await audit.verify(engine, probe)
    finally:
        await engine.dispose()
    if broken is not None:
        return (
            f"the existing chain does not verify ({broken}); if it was keyed, restore "
            "its audit key from backup instead"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    create(path, head.count, head.hash)
    print(f"dsx audit keygen: wrote {path} (0600); it pins the {head.count} entries written so far")
    print("back it up with the keys folder: without it the audit log cannot be verified")
    return ""


def run(args: argparse.Namespace) -> int:
    conf = load_config("audit", args.config)
    if conf is None:
        return 2
    try:
        if args.action == "keygen":
            problem = asyncio.run(_keygen(conf))
            if problem:
                print(f"dsx audit keygen: {problem}", file=sys.stderr)
                return 2
            return 0
        return _verify_command(conf, args.anchor)
    except AuditKeyError as exc:
        print(f"dsx audit {args.action}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the database is unreachable, say: one line, no traceback
        if os.environ.get("DSX_DEBUG"):
            raise
        print(f"dsx audit {args.action}: {failure.explain(exc)}", file=sys.stderr)
        return 1
