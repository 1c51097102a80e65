"""Use cases of the coordinator; ``Coordinator`` is the entry point callers use."""

from coordinator.usecases.service import Coordinator

__all__ = ["Coordinator"]
