"""`dsx config check`: validate a configuration file and print the effective settings."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys

from coordinator import config as cfg
from coordinator.cli.options import add_config, load_config

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
    try:
        cfg.check_staff(conf)
    except cfg.ConfigError as exc:
        print(f"dsx config: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(_redact(dataclasses.asdict(conf)), indent=2))
    for warning in warnings(conf):
        print(f"dsx config: warning: {warning}", file=sys.stderr)
    return 0


def warnings(conf) -> list[str]:  # type: ignore[no-untyped-def]
    """What runs but leaves someone without help: said, not refused."""
    out = []
    if not conf.emergency.configured:
        out.append(
            "[emergency] has no signal, phone or email: the request form cannot tell an "
            "organization in a crisis whom to reach now (it points them to their partner)"
        )
    return out
