"""Everything a use case needs besides its transaction: configuration, trust, sealing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from coordinator.config import Config
from coordinator.domain import DomainError
from coordinator.sealing import PublicSealer
from coordinator.usecases.trust import TrustIndex


@dataclass
class Context:
    config: Config
    trust: TrustIndex
    sealer: PublicSealer | None
    clock: Callable[[], datetime]

    @property
    def staff_room(self) -> str:
        return self.config.staff.room or "staff"

    def require_sealer(self) -> PublicSealer:
        """The sealer, or the refusal a use case gives when none is configured."""
        if self.sealer is None:
            raise DomainError(
                "sealing_not_configured",
                "Personal data can only be stored once a sealing public key is configured.",
            )
        return self.sealer
