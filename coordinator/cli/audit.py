"""`dsx audit`: verify the hash-chained audit log."""

from __future__ import annotations

from coordinator.cli.pending import not_yet


def register(sub) -> None:
    p = sub.add_parser("audit", help="verify the hash-chained audit log")
    p.set_defaults(func=not_yet("audit", "the coordinator core issue"))
