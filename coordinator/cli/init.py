"""`dsx init`: write a configuration file and generate keys."""

from __future__ import annotations

from coordinator.cli.pending import not_yet


def register(sub) -> None:
    p = sub.add_parser("init", help="write a configuration file and generate keys")
    p.set_defaults(func=not_yet("init", "the production issue"))
