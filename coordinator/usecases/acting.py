"""Who is asking: the typed caller every adapter hands to the core.

Adapters (rooms, dashboard, CLI, API) say who the caller is; the core decides what
that caller may do and in whose name. A use case never takes an "author" or an
"owner" from its caller's input without checking it against this value: see
``docs/security.md``, "Who may do what".
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_USER = "system"


@dataclass(frozen=True)
class Acting:
    """The person (or process) on whose request a use case runs.

    ``partner`` is the formal partner the caller speaks for in this call (the partner
    whose room the command came from), or ``None``; ``staff`` is true only for a listed
    staff member acting as staff.
    """

    user: str
    partner: str | None = None
    staff: bool = False

    @classmethod
    def system(cls) -> Acting:
        return cls(SYSTEM_USER, None, False)
