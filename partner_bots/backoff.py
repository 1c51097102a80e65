"""Exponential backoff with jitter that never returns zero: a failing loop must not spin."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 60.0
    factor: float = 2.0
    floor: float = 0.1

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (1-based).

        Equal jitter (half fixed, half random) spreads restarts of many bots apart; a
        server-given ``retry_after`` is a lower bound, never shortened.
        """
        ceiling = min(self.cap, self.base * self.factor ** max(0, failures - 1))
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after is not None:
            wait = max(wait, retry_after + random.uniform(0, min(1.0, retry_after / 10 + 0.05)))
        return max(self.floor, wait)
