"""`dsx config check`: validate a configuration file and print the effective settings."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys

from coordinator import deployment
from dsx.cli.options import add_config, load_config

_SECRETS = {"password", "access_token", "pickle_key"}
# The password part of ``scheme://user:password@host`` (a database URL, say).
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):[^/?#]*@")


def register(sub) -> None:
    p = sub.add_parser("config", help="validate a configuration file")
    p.add_argument("action", choices=["check"], help="check: validate and print the settings")
    add_config(p)
    p.set_defaults(func=run)


def redact_url(value: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return _URL_PASSWORD.sub(r"\1:***@", value)


def _redact(obj):
    if isinstance(obj, dict):
        return {k: ("***" if k in _SECRETS and v else _redact(v)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_redact(v) for v in obj]
    if isinstance(obj, str):
        return redact_url(obj)
    return obj


def run(args: argparse.Namespace) -> int:
    conf = load_config("config", args.config)
    if conf is None:
        return 2
    problems = deployment.check_deployment(conf)
    bad = deployment.errors(problems)
    if bad:  # the first, and how many more: two lines at most (`dsx doctor` lists each)
        first = bad[0]
        print(f"dsx config: {conf.source}: {first.key}: {first.text}; {first.fix}", file=sys.stderr)
        if len(bad) > 1:
            print(
                f"dsx config: and {len(bad) - 1} more error(s); `dsx doctor` lists each",
                file=sys.stderr,
            )
        return 2
    print(json.dumps(_redact(dataclasses.asdict(conf)), indent=2))
    for problem in problems:
        print(f"dsx config: {problem.line()}", file=sys.stderr)
    return 0
