"""`dsx run`: run the coordinator against a real homeserver and database.

``--role`` splits it in two processes on one database (docs/operator.md, "Two roles"):
``web`` (forms, dashboard, API; the public key only, no Matrix secrets) and ``bot``
(bots, delivery, SLA checks; the private key, pickle keys and tokens). ``all``, the
default, runs both in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from coordinator import audit_key
from coordinator import config as cfg
from dsx.cli.options import add_config, load_config


def register(sub) -> None:
    p = sub.add_parser("run", help="run the coordinator against a real homeserver and database")
    add_config(p)
    p.add_argument(
        "--role",
        choices=cfg.ROLES,
        default="all",
        help="web: forms and dashboard only (public key, no Matrix secrets); bot: bots and "
        "delivery (private key, tokens); all: both in one process (default)",
    )
    p.set_defaults(func=run)


async def _main(conf: cfg.Config, role: str) -> None:
    from dsx.service import serve
    from partner_bots.session import on_sigterm

    stop = asyncio.Event()
    remove = on_sigterm(stop.set)
    try:
        await serve(conf, stop=stop, role=role)
    finally:
        remove()


def run(args: argparse.Namespace) -> int:
    from coordinator import logs

    conf = load_config("run", args.config)
    if conf is None:
        return 2
    try:
        cfg.check_staff(conf)  # nobody could act as staff: refuse to start
    except cfg.ConfigError as exc:
        print(f"dsx run: {exc}", file=sys.stderr)
        return 2
    try:
        audit_key.require(conf)  # nothing may be written without it: say so before starting
    except audit_key.AuditKeyError as exc:
        print(f"dsx run: {exc}", file=sys.stderr)
        return 2
    role = getattr(args, "role", "all")
    if role == "web" and not conf.sealing.public_key_file:
        print(
            "dsx run: --role web serves the request forms: set [sealing] public_key_file",
            file=sys.stderr,
        )
        return 2
    logs.setup(conf.log_level, fmt=conf.log_format)
    asyncio.run(_main(conf, role))  # a failure is explained in one line by the dsx entry point
    return 0
