"""`dsx migrate`: apply database migrations."""

from __future__ import annotations

from coordinator.cli.pending import not_yet


def register(sub) -> None:
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=not_yet("migrate", "the coordinator core issue"))
