"""What the Matrix side must forget, queued as outbox work in the deciding transaction.

The core decides (a close, a removal, a submission past its retention window); the bot
carries it out later, exactly once, like any other outbox row (docs/security.md, "What
the Matrix side keeps"). Two kinds of row:

* ``room_cleanup`` for an engagement room, in a queue of its own
  (``cleanup:engagement:<id>``): redact the bot's messages there (all but the closing
  notice it names), remove the named members, leave and forget the room. It runs only
  after every message queued for the room has gone out.
* ``redact_event``: redact one message the bot posted, named by its outbox row (the
  intake details of a public-form submission), in the queue that row went through.

A redaction row's id is derived from the row it redacts, so queuing it again is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from coordinator.store.outbox import PENDING, SENT, ref
from coordinator.store.schema import outbox
from coordinator.store.sealed import INTAKE_DETAILS
from coordinator.usecases.unit import Tx

ROOM_CLEANUP = "room_cleanup"
REDACT_EVENT = "redact_event"
CLEANUP_QUEUE = "cleanup:"
ENGAGEMENT = "engagement:"
REDACTION_PREFIX = "redact-"
# Said in the closing notice, the one message of the bot's that stays in the room.
CLOSING = "This room is closed: I now remove my messages from it, remove the provider and leave."


@dataclass(frozen=True)
class RoomCleanup:
    """One engagement room's cleanup, as the bot reads it from the row's content."""

    engagement: str
    redact: bool  # the bot's own messages, except ``keep``
    remove: tuple[str, ...]  # members to remove (the provider)
    leave: bool  # leave and forget, and drop the room's keys
    keep: tuple[str, ...] = ()  # outbox refs of messages that stay (the closing notice)

    @property
    def room(self) -> str:
        """The engagement room's outbox address."""
        return ENGAGEMENT + self.engagement

    def content(self) -> dict[str, object]:
        return {
            "engagement": self.engagement,
            "redact": self.redact,
            "remove": list(self.remove),
            "leave": self.leave,
            "keep": list(self.keep),
        }

    @classmethod
    def of(cls, content: dict[str, object]) -> RoomCleanup:
        def strings(key: str) -> tuple[str, ...]:
            value = content.get(key)
            return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

        return cls(
            str(content.get("engagement", "")),
            content.get("redact") is True,
            strings("remove"),
            content.get("leave") is True,
            strings("keep"),
        )


def cleanup_queue(engagement_id: str) -> str:
    return CLEANUP_QUEUE + ENGAGEMENT + engagement_id


async def close_room(tx: Tx, engagement_id: str, provider: str, closing_notice: str) -> str:
    """After the closing notice (an outbox id): redact, remove the provider, leave, forget."""
    cleanup = RoomCleanup(engagement_id, True, (provider,), True, (ref(closing_notice),))
    return await tx.send(cleanup_queue(engagement_id), cleanup.content(), kind=ROOM_CLEANUP)


async def remove_from_room(tx: Tx, engagement_id: str, member: str) -> str:
    """Remove one member (a removed provider) from an engagement room the bot stays in."""
    cleanup = RoomCleanup(engagement_id, False, (member,), False)
    return await tx.send(cleanup_queue(engagement_id), cleanup.content(), kind=ROOM_CLEANUP)


def redaction_id(message_id: str) -> str:
    return REDACTION_PREFIX + message_id


async def redact_delivered_intake(tx: Tx, delivered_before: datetime) -> list[str]:
    """Queue the redaction of every intake-details message delivered before the cutoff
    (the submission's retention window is over); each once. Returns the rows queued."""
    delivered = await tx.conn.execute(
        sa.select(outbox.c.id, outbox.c.room).where(
            outbox.c.kind == INTAKE_DETAILS,
            outbox.c.state == SENT,
            outbox.c.created_at <= delivered_before,
        )
    )
    candidates = {row.id: row.room for row in delivered}
    if not candidates:
        return []
    queued = set(
        (
            await tx.conn.execute(
                sa.select(outbox.c.id).where(outbox.c.id.in_([redaction_id(i) for i in candidates]))
            )
        ).scalars()
    )
    added: list[str] = []
    for message_id, room in sorted(candidates.items()):
        row_id = redaction_id(message_id)
        if row_id in queued:
            continue
        await tx.conn.execute(
            outbox.insert().values(
                id=row_id,
                room=room,
                kind=REDACT_EVENT,
                content={"target": ref(message_id)},
                created_at=tx.now,
                state=PENDING,
                attempts=0,
                available_at=tx.now,
            )
        )
        added.append(row_id)
    return added
