"""`dsx up`: the one-command demo."""

from __future__ import annotations

from coordinator.cli.pending import not_yet


def register(sub) -> None:
    p = sub.add_parser("up", help="the one-command demo")
    p.set_defaults(func=not_yet("up", "the demo issue"))
