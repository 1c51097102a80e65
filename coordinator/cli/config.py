"""`dsx config check`: validate a configuration file and print the effective settings."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from coordinator import config as cfg
from coordinator.cli.options import add_config, load_config

_SECRETS = {"password", "access_token", "pickle_key"}


def register(sub) -> None:
    p = sub.add_parser("config", help="validate a configuration file")
    p.add_argument("action", choices=["check"], help="check: validate and print the settings")
    add_config(p)
    p.set_defaults(func=run)


def _redact(obj):
    if isinstance(obj, dict):
        return {k: ("***" if k in _SECRETS and v else _redact(v)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_redact(v) for v in obj]
    return obj


def run(args: argparse.Namespace) -> int:
    conf = load_config("config", args.config)
    if conf is None:
        return 2
    try:
        cfg.check_staff(conf)
    except cfg.ConfigError as exc:
        print(f"dsx config: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(_redact(dataclasses.asdict(conf)), indent=2))
    return 0
