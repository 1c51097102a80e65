"""The kind → renderer table, and the one call delivery makes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from coordinator import notifications as n

N = TypeVar("N", bound=n.Notification)


@dataclass(frozen=True)
class Where:
    """Where a notification goes, and the Matrix ids of the rooms it names."""

    room: n.RoomRef
    room_ids: Mapping[str, str] = field(default_factory=dict)  # by room address

    def room_id(self, room: n.RoomRef) -> str:
        return self.room_ids[room.address]


Renderer = Callable[[Any, Where], dict[str, Any]]
RENDERERS: dict[str, Renderer] = {}


def renders(cls: type[N]) -> Callable[[Callable[[N, Where], dict[str, Any]]], Renderer]:
    """Register the renderer of ``cls``'s kind (exactly one per kind)."""

    def register(fn: Callable[[N, Where], dict[str, Any]]) -> Renderer:
        if cls.KIND in RENDERERS:
            raise RuntimeError(f"two renderers for {cls.KIND}")
        RENDERERS[cls.KIND] = fn
        return fn

    return register


def render(notification: n.Notification, where: Where) -> dict[str, Any]:
    return RENDERERS[notification.KIND](notification, where)
