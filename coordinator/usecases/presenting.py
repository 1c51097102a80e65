"""How what a use case changed reaches the rooms: a port the core calls inside the use
case's own transaction, so the rows it queued and the way rooms show them commit
together (docs/architecture.md, "How to add a command / a use case").

The core says where the caller was (a room and thread, or nowhere: dashboard, CLI,
form, system) and what the change is about; the Matrix side
(``partner_bots/workflow/presenting.py``) renders and threads the rows. Without one
(the web app alone, the CLI, tests of the core) the core's own plain content stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from coordinator.usecases.unit import Tx


@dataclass(frozen=True)
class Shown:
    """What rooms should show of one use case's change."""

    room: str | None = None  # where the command was given; None: not from a room
    thread: str | None = None  # its thread there (a new request's: the command's event)
    request: str | None = None  # the request the change is about (its thread elsewhere)
    answered: str | None = None  # the proposal answered (its thread in ``room``)
    edited: tuple[str, ...] = ()  # proposals whose posted copies now show a new state
    opens_thread: bool = False  # a request filed: its thread starts at ``thread``


class Presenter(Protocol):
    async def mark(self, tx: Tx) -> int:
        """Where this transaction's rows begin (read before the use case runs)."""
        ...

    async def show(self, tx: Tx, mark: int, shown: Shown) -> None:
        """Render and thread the rows queued since ``mark``; edit ``shown.edited``."""
        ...


class Plain:
    """No rooms to present to: the core's plain content goes out as queued."""

    async def mark(self, tx: Tx) -> int:
        return 0

    async def show(self, tx: Tx, mark: int, shown: Shown) -> None:
        return None
