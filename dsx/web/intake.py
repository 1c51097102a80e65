"""Filing a public form: the port the views call, and its adapter onto the core.

The use case is the core's (``coordinator/usecases/intake.py``, through
``Coordinator.receive_intake``: sealed with the public key, one transaction under the
core's lock); this module only names the port the views depend on.
"""

from __future__ import annotations

from typing import Protocol

from coordinator.forms import Submission
from coordinator.store.sealed import INTAKE_SCOPE
from coordinator.usecases import Coordinator
from coordinator.usecases.results import IntakeReceipt

__all__ = ["INTAKE_SCOPE", "CoreIntake", "IntakeReceipt", "IntakeService"]


class IntakeService(Protocol):
    async def submit(self, submission: Submission) -> IntakeReceipt: ...


class CoreIntake:
    """The public form's submissions, received by the core."""

    def __init__(self, coordinator: Coordinator):
        self._coordinator = coordinator

    async def submit(self, submission: Submission) -> IntakeReceipt:
        return await self._coordinator.receive_intake(submission)
