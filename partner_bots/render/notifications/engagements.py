"""``engagement.opened`` (the welcome in the engagement room; the news in the asking
partner's room) and ``engagement.closed``. The engagement block names the room the
provider is invited to by its Matrix id."""

from __future__ import annotations

from typing import Any

from coordinator import notifications as n
from coordinator.usecases.forgetting import CLOSING
from partner_bots.render.notice import notice
from partner_bots.render.notifications.registry import Where, renders
from partner_bots.render.text import clean

ENGAGEMENT_KEY = "org.dsx.engagement"


def block(x: n.EngagementOpened, where: Where) -> dict[str, Any]:
    room = where.room_id(n.EngagementRoom(x.engagement))
    return {
        ENGAGEMENT_KEY: {
            "id": x.engagement,
            "request": x.request_id,
            "provider": x.provider,
            "room": room,
        }
    }


@renders(n.EngagementOpened)
def opened(x: n.EngagementOpened, where: Where) -> dict[str, Any]:
    if isinstance(where.room, n.EngagementRoom):
        skills = ", ".join(clean(s, 40) for s in x.skills)
        return notice(
            f"Welcome. This room is for request {x.request_id}: skills {skills}. "
            f"Close it with `!dsx close {x.engagement}`.",
            mention=[x.provider],
            extra=block(x, where),
        )
    return notice(
        f"Engagement {x.engagement} opened for request {x.request_id} with {x.provider}.",
        extra=block(x, where),
    )


@renders(n.EngagementClosed)
def closed(x: n.EngagementClosed, where: Where) -> dict[str, Any]:
    """The one message of the bot's that stays in the room: it says the room is cleaned
    up next (``coordinator/usecases/forgetting.py``)."""
    if x.cause is n.CloseCause.ORGANIZATION_REMOVED:
        return notice(
            f"Engagement {x.engagement} is closed: the organization is no longer part "
            f"of the network. Thank you; no review is needed. {CLOSING}"
        )
    return notice(
        f"Engagement {x.engagement} is closed. Please review it: "
        f"`!dsx review {x.engagement} conduct=<1-5> contract=<1-5> communication=<1-5>`. "
        f"{CLOSING}"
    )
