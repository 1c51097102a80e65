"""Delivering a public-form submission's sealed details into its encrypted room.

The web process seals every field with the public key and queues two outbox rows: a
content-free notice, and an ``intake_details`` row that names the case reference only.
This module is the one place that opens those fields: right before sending, in the
delivery process (the only holder of the private key), into a room nio knows to be
encrypted. The plaintext lives in memory for the send and is never written to the
database, the outbox row or a log line.

Refusals keep the row pending with a code (``dsx doctor`` and the outbox show it) and a
long retry, so a missing key or an unencrypted room never becomes a tight retry loop.

Every blob is sealed for its own row (``coordinator.sealing``), and a submission seals
the room it was routed to beside its fields. A submission holding a blob sealed for
another row, or whose outbox row now points at another room (both need someone able to
write to the database), is refused whole, ``intake_details_misplaced``, and audited:
none of its fields is sent.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.audit_key import AuditKey
from coordinator.forms import SCHEMAS, FormKind, FormSchema, Widget
from coordinator.logs import get_logger
from coordinator.sealing import MisplacedBlob, Opener, SealingError, load_private_key
from coordinator.store.sealed import (
    INTAKE_DETAILS,
    INTAKE_ROOM,
    INTAKE_ROUTED_TO,
    INTAKE_SCOPE,
    open_values,
)
from coordinator.usecases import unit
from partner_bots.delivery import Outgoing, RoomResolver
from partner_bots.render.notice import notice
from partner_bots.sending import SendError

log = get_logger(__name__)

__all__ = ["INTAKE_DETAILS", "INTAKE_ROOM", "IntakeDetails", "IntakeRooms", "Refusal", "render"]

DSX_DETAILS = "org.dsx.intake_details"
NO_KEY = "intake_no_private_key"
KEY_UNUSABLE = "intake_private_key_unusable"
UNENCRYPTED = "intake_room_unencrypted"
UNKNOWN_ROOM = "M_UNKNOWN_ROOM"
NOT_OPENED = "intake_not_opened"  # sealed to a key we do not hold, or tampered
MISPLACED = "intake_details_misplaced"  # a blob of another row, or another room than sealed
MISSING = "intake_details_missing"  # nothing sealed under that reference (purged?)
WAITING_NOTICE = "intake_waiting_notice"
# Misconfiguration waits for an operator: retry rarely (12 attempts span ~3 hours).
OPERATOR_RETRY_S = 900.0
# The details queue is not held up behind the notice's room, so a details row whose notice
# is not sent yet would spend an attempt per claim: look again only once a minute (the
# notice normally goes out in the same delivery round, just before).
NOTICE_WAIT_S = 60.0
SYNC_RETRY_S = 5.0


@dataclass(frozen=True)
class Refusal:
    code: str
    retry_after: float


def target_room(logical: str) -> str | None:
    """The room id an ``intake:<room id>`` row is for (None: not an intake row's room)."""
    return logical[len(INTAKE_ROOM) :] if logical.startswith(INTAKE_ROOM) else None


class IntakeRooms:
    """A ``RoomResolver``: an ``intake:<room id>`` queue is that room; others go to ``inner``."""

    def __init__(self, inner: RoomResolver):
        self.inner = inner

    async def resolve(self, room: str) -> str | None:
        return await self.inner.resolve(target_room(room) or room)


INDENT = "\n    "


def _shown(spec_widget: Widget, choices: Mapping[str, str], value: str) -> str:
    if spec_widget in (Widget.CHECKBOXES, Widget.RADIO, Widget.COUNTRY) and choices:
        return ", ".join(choices.get(v.strip(), v.strip()) for v in value.split(","))
    return value


def render(reference: str, form: FormKind, fields: Mapping[str, str]) -> dict[str, Any]:
    """An ``m.notice`` with every submitted field, in the form's order, plain and HTML.

    Everything typed is HTML-escaped; fields not in the schema (an older form) still show,
    after the known ones, so nothing submitted is silently dropped.
    """
    schema: FormSchema = SCHEMAS[form]
    what = "request for assistance" if form is FormKind.REQUEST else "provider application"
    title = f"Details of {what} {reference} (opened for this encrypted room only)"
    rows: list[tuple[str, str]] = []
    for spec in schema.fields:
        if fields.get(spec.name):
            choices = {c.value: c.label for c in spec.choices}
            rows.append((spec.label, _shown(spec.widget, choices, fields[spec.name])))
    rows += [(name, value) for name, value in fields.items() if name not in schema.names]
    # A multi-line answer is indented under its label, so a line typed as "Email: …"
    # inside it can never pass for a field of its own (docs/security.md).
    body = "\n".join(
        [title + ":", *(f"{label}: {value.replace(chr(10), INDENT)}" for label, value in rows)]
    )
    items = "".join(
        f"<li><strong>{html.escape(label)}</strong>: "
        f"{html.escape(value).replace(chr(10), '<br>')}</li>"
        for label, value in rows
    )
    return notice(
        body,
        f"<p>{html.escape(title)}:</p><ul>{items}</ul>",
        extra={DSX_DETAILS: {"reference": reference, "form": form.value}},
    )


class IntakeDetails:
    """Checks an ``intake_details`` row's target room and opens its fields."""

    def __init__(
        self,
        engine: AsyncEngine,
        opener: Opener | None,
        problem: str = NO_KEY,
        *,
        audit_key: AuditKey,
    ):
        self.engine = engine
        self.opener = opener
        self.problem = problem
        self.audit_key = audit_key  # a refusal is audited, like every entry, under the key
        if opener is None:
            # Said once at start-up; every refused row repeats only the code.
            log.warning("intake.details_disabled", code=problem)

    @classmethod
    def from_key_file(
        cls, engine: AsyncEngine, private_key_file: str, *, audit_key: AuditKey
    ) -> IntakeDetails:
        """Load the private key ring; a missing or broken file disables delivery of
        details (rows wait, with a code) instead of stopping the whole service."""
        if not private_key_file:
            return cls(engine, None, NO_KEY, audit_key=audit_key)
        try:
            return cls(engine, load_private_key(Path(private_key_file)), audit_key=audit_key)
        except (OSError, SealingError) as exc:
            log.error("intake.private_key_unusable", error=type(exc).__name__)
            return cls(engine, None, KEY_UNUSABLE, audit_key=audit_key)

    def refusal(self, room: Any) -> Refusal | None:
        """Why the details may not be opened for ``room`` (a nio room, None if unknown)."""
        if self.opener is None:
            return Refusal(self.problem, OPERATOR_RETRY_S)
        if room is None:
            return Refusal(UNKNOWN_ROOM, SYNC_RETRY_S)
        if not getattr(room, "encrypted", False):
            return Refusal(UNENCRYPTED, OPERATOR_RETRY_S)
        return None

    async def content(self, message: Outgoing) -> dict[str, Any]:
        """Open the row's sealed fields and render them (raises ``SendError`` with a code)."""
        if self.opener is None:
            raise SendError(self.problem, OPERATOR_RETRY_S)
        reference = str(message.content.get("reference", ""))
        try:
            form = FormKind(str(message.content.get("form", "")))
        except ValueError:
            raise SendError(MISSING, None) from None
        try:
            fields = await open_values(self.engine, self.opener, reference, INTAKE_SCOPE)
        except MisplacedBlob:
            await self._audit_refusal(reference, MISPLACED)
            raise SendError(MISPLACED, OPERATOR_RETRY_S) from None
        except SealingError:
            raise SendError(NOT_OPENED, OPERATOR_RETRY_S) from None
        if not fields:
            raise SendError(MISSING, None)
        if fields.pop(INTAKE_ROUTED_TO, None) != target_room(message.room):
            await self._audit_refusal(reference, MISPLACED)
            raise SendError(MISPLACED, OPERATOR_RETRY_S)
        return render(reference, form, fields)

    async def _audit_refusal(self, reference: str, code: str) -> None:
        """Record a refusal that points at tampering (a code and the reference only)."""

        async def body(tx: unit.Tx) -> None:
            tx.audit("intake.details_refused", reference, code=code)

        await unit.run(
            self.engine,
            name="intake.details_refused",
            actor="delivery",
            now=datetime.now(UTC),
            event_id=None,
            result_type=type(None),
            body=body,
            audit_key=self.audit_key,
        )
