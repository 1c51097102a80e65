"""`dsx up`: the one-command demo (two local homeservers, the coordinator, a scripted story)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("up", help="the one-command demo")
    p.add_argument(
        "--data-dir",
        default=None,
        help="a new or empty folder for everything it creates (default: a new dsx-demo/<time>)",
    )
    p.add_argument(
        "--exit-after-scenario",
        action="store_true",
        help="stop once the scenario is played (exit 0 only if every milestone was reached)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.data_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = Path("dsx-demo", stamp).resolve()
    else:
        root = Path(args.data_dir).resolve()
    if root.exists() and any(root.iterdir()):
        print(
            f"dsx up: {root} is not empty; remove it or pass --data-dir with a new folder",
            file=sys.stderr,
        )
        return 2
    try:
        from dsx.demo.up import main
        from partner_bots.homeserver.synapse import synapse_available
    except ImportError as exc:  # pragma: no cover - a broken install
        print(f"dsx up: {exc}", file=sys.stderr)
        return 2
    if not synapse_available():
        print("dsx up: needs a local homeserver: pip install -e '.[homeserver]'", file=sys.stderr)
        return 2
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    return main(root, args.exit_after_scenario)
