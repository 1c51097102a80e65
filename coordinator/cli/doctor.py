"""`dsx doctor`: check a deployment and print what to fix."""

from __future__ import annotations

from coordinator.cli.pending import not_yet


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check a deployment and print what to fix")
    p.set_defaults(func=not_yet("doctor", "the production issue"))
