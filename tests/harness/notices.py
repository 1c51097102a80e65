"""Outbox rows as the room will read them: a core notification rendered by its kind's
renderer (``partner_bots.render.notifications``), as delivery does at send time."""

from __future__ import annotations

from typing import Any

from coordinator import notifications as n
from partner_bots.render.notifications import Where, render


def rendered(message: Any) -> dict[str, Any]:
    """``message``: an outbox row (``OutgoingMessage`` or a row with kind and content)."""
    if message.kind != n.ROW_KIND:
        return dict(message.content)
    queued = n.decode(message.content)
    ids = {r.address: f"!{r.address}:hs" for r in queued.notification.rooms_named()}
    return render(queued.notification, Where(queued.room, ids))


def notification(message: Any) -> n.Notification | None:
    """The typed value a row holds, or None for an adapter's own content."""
    if message.kind != n.ROW_KIND:
        return None
    return n.decode(message.content).notification
