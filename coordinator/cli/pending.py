"""Commands that are planned but not built yet fail clearly instead of pretending."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def not_yet(name: str, issue: str) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:
        print(
            f"dsx {name}: not yet available in this version ({issue}). "
            "See README.md for what works today.",
            file=sys.stderr,
        )
        return 3

    return run
