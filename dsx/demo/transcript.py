"""The demo's readable transcript: numbered milestones and the lines between them.

Each milestone line has a fixed, greppable shape (``[milestone N/M] key: text``) so scripts
and CI can check that every step was reached. Nothing personal is printed beyond the demo's
invented names.
"""

from __future__ import annotations

import enum
import sys
import time
from typing import TextIO


class Milestone(enum.Enum):
    HOMESERVERS = "two federating homeservers are up"
    ROOMS = "demo accounts registered, encrypted partner rooms and staff room created"
    TRUST = "trust network seeded from the Advogato data set"
    COORDINATOR = "coordinator, bot and dashboard are running"
    BOT_JOINED = "the bot joined every partner room and the staff room"
    REQUEST = "a partner filed a request"
    PROPOSAL = "the bot proposed a provider, with the vouching path"
    APPROVED = "the partner approved by reacting ✅"
    ENGAGEMENT = "the provider joined the engagement room"
    CLOSED = "the engagement was closed"
    REVIEWED = "the engagement was reviewed"
    PURGED = "the organization's data was purged from the database"
    CROSS_PARTNER = "a provider from another partner's web of trust: both partners approved"
    FEDERATED = "the provider on the second homeserver joined the new engagement room"

    @property
    def number(self) -> int:
        return list(Milestone).index(self) + 1

    @property
    def key(self) -> str:
        return self.name.lower()


class Transcript:
    def __init__(self, out: TextIO = sys.stdout):
        self.out = out
        self.started = time.monotonic()
        self.reached: list[Milestone] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def milestone(self, m: Milestone, detail: str = "") -> None:
        self.reached.append(m)
        extra = f" ({detail})" if detail else ""
        self.line(
            f"[milestone {m.number}/{len(Milestone)}] {m.key}: {m.value}{extra}"
            f"  [{self.elapsed():.1f} s]"
        )

    def say(self, who: str, text: str) -> None:
        self.line(f"    {who}: {text}")

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @property
    def complete(self) -> bool:
        return set(self.reached) == set(Milestone)
