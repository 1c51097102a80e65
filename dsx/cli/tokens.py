"""`dsx tokens`: list and revoke staff API tokens, for the operator.

The dashboard shows a staff member their own tokens; this shows every staff member's,
and revokes any of them (a lost laptop, someone leaving). Only ids, owners, labels and
times are printed: the secret is shown once, when it is created, and never stored.
Revocation deletes the token's row, so the next request with it is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from coordinator.audit_key import AuditKeyError
from coordinator.config import Config
from dsx.cli.options import add_config, load_config

ACTOR = "operator"


def register(sub) -> None:
    p = sub.add_parser("tokens", help="list or revoke staff API tokens")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every live API token (never its secret)")
    listing.add_argument("--staff", default=None, help="only this staff member's tokens")
    revoke = actions.add_parser("revoke", help="revoke API tokens at once")
    revoke.add_argument("ids", nargs="+", help="token ids (from `dsx tokens list`)")
    for parser in (listing, revoke):
        add_config(parser)
    p.set_defaults(func=run)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


async def _list(url: str, staff: str | None) -> int:
    from coordinator.store import create_engine
    from coordinator.store.clock import utcnow
    from dsx.web.auth import DatabaseSecretStore

    engine = create_engine(url)
    try:
        now = utcnow()
        found = await DatabaseSecretStore(engine).api_tokens(staff)
        tokens = [t for t in found if t.expires_at > now]
    finally:
        await engine.dispose()
    if not tokens:
        print("dsx tokens: no live API tokens")
        return 0
    print(f"{'id':<14} {'staff':<30} {'created (UTC)':<17} {'last used':<17} {'expires':<17} label")
    for t in tokens:
        print(
            f"{t.token_id or '-':<14} {t.staff:<30} {_when(t.created_at):<17} "
            f"{_when(t.last_used_at):<17} {_when(t.expires_at):<17} {t.label or ''}"
        )
    print(f"dsx tokens: {len(tokens)} live")
    return 0


async def _revoke(conf: Config, ids: list[str]) -> int:
    from coordinator.audit_key import for_config
    from coordinator.store import create_engine
    from coordinator.store.clock import utcnow
    from dsx.web.auth import DatabaseSecretStore

    engine = create_engine(conf.database_url)
    missing: list[str] = []
    try:
        # Each revocation is audited, under the audit key like every entry.
        store = DatabaseSecretStore(engine, await for_config(conf, engine))
        for token_id in ids:
            if await store.revoke(token_id, None, ACTOR, utcnow()):
                print(f"dsx tokens: revoked {token_id}")
            else:
                missing.append(token_id)
    finally:
        await engine.dispose()
    if missing:
        print(f"dsx tokens: no such token: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    conf = load_config("tokens", args.config)
    if conf is None:
        return 2
    try:
        if args.action == "list":
            return asyncio.run(_list(conf.database_url, args.staff))
        return asyncio.run(_revoke(conf, args.ids))
    except AuditKeyError as exc:
        print(f"dsx tokens: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line, never a traceback
        print(
            f"dsx tokens: cannot use the database ({type(exc).__name__}); "
            "check [database] and run `dsx migrate`",
            file=sys.stderr,
        )
        return 1
