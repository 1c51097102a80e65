"""Who is asking: the typed caller every adapter hands to the core.

Adapters (rooms, dashboard, CLI, API) say who the caller is; the core decides what
that caller may do and in whose name. A use case never takes an "author" or an
"owner" from its caller's input without checking it against this value: see
``docs/security.md``, "Who may do what", and ``coordinator/usecases/ownership.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_USER = "system"


@dataclass(frozen=True)
class Acting:
    """The person (or process) on whose request a use case runs.

    ``partner`` is the formal partner the caller speaks for in this call (the partner
    whose room the command came from), or ``None``; ``staff`` is true only for a listed
    staff member acting as staff (the staff room, a dashboard session, an API token);
    ``device_trusted`` is the standing of the device a room command came from.
    """

    user: str
    partner: str | None = None
    staff: bool = False
    # Whose words count (docs/security.md): for a command from a Matrix device, whether
    # that device meets the device policy; None when no device is involved (a dashboard
    # session, an API token, the CLI, the system). The core changes nothing for False.
    device_trusted: bool | None = None

    @classmethod
    def system(cls, partner: str | None = None) -> Acting:
        """The coordinator itself: the SLA loop, demo seeding, benchmarks and tests.

        Trusted: it sees everything. With ``partner`` it answers in that partner's name
        (a seeded approval); no adapter builds this, since no Matrix id is ``system``.
        """
        return cls(SYSTEM_USER, partner, False)

    @property
    def is_system(self) -> bool:
        return self.user == SYSTEM_USER

    @property
    def sees_all(self) -> bool:
        """Staff and the system see every case; a partner sees its own."""
        return self.staff or self.is_system


def caller(by: Acting | str | None) -> Acting:
    """The trusted shorthand of the core's own callers (tests, seeding, benchmarks): a
    bare handle is the system answering for that partner (or that provider), ``None``
    the system itself. Adapters always pass an ``Acting``."""
    if by is None:
        return Acting.system()
    if isinstance(by, Acting):
        return by
    return Acting.system(by)
