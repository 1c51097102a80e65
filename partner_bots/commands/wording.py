"""Phrases several commands' replies share."""

from __future__ import annotations

from collections.abc import Sequence


def path_text(path: Sequence[str]) -> str:
    """A vouching path as partners read it."""
    return " → ".join(path) if path else "none"
