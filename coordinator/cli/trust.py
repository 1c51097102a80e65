"""`dsx trust`: trust graph tools (vet, paths, impact, accepted)."""

from __future__ import annotations

from coordinator.cli.pending import not_yet


def register(sub) -> None:
    p = sub.add_parser("trust", help="trust graph tools (vet, paths, impact, accepted)")
    p.set_defaults(func=not_yet("trust", "the trust graph issue"))
