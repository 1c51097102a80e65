"""`dsx run`: run the coordinator against a real homeserver and database."""

from __future__ import annotations

from coordinator.cli.pending import not_yet


def register(sub) -> None:
    p = sub.add_parser("run", help="run the coordinator against a real homeserver and database")
    p.set_defaults(func=not_yet("run", "the production issue"))
