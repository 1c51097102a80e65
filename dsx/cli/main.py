"""Entry point of the ``dsx`` console script.

Each sub-command lives in its own module exposing ``register(subparsers)``; the module
sets ``func`` on its parser. Adding a command is one module plus one line in COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from coordinator import __version__
from dsx.cli import failure, usage

# Module names under dsx.cli, in the order `dsx --help` lists them.
COMMANDS: tuple[str, ...] = (
    "up",
    "run",
    "init",
    "doctor",
    "migrate",
    "trust",
    "audit",
    "outbox",
    "tokens",
    "config",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dsx",
        description="DSX coordinator: match organizations under digital threat with vetted "
        "volunteer security providers, through partners who vouch and approve.",
    )
    parser.add_argument("--version", action="version", version=f"dsx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"dsx.cli.{name}").register(sub)
    usage.apply(parser)  # every command's description and examples
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last guard: one or two lines, never a traceback
        if os.environ.get("DSX_DEBUG"):
            raise
        print(f"dsx {args.command}: {failure.explain(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
