"""Who on staff owns a case: a staff member takes a request or an applicant, hands it
over to another staff member or releases it (docs/staff.md, "Owning a case").

In the core so the dashboard, the API and a room command get one answer. One
transaction each, audited like every use case (``coordinator/usecases/unit.py``). A
refusal changes nothing and is audited with its reason; a caller who is not staff, and a
subject that does not exist, get word for word the answer for an unknown id.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.audit_key import AuditKey
from coordinator.domain import NotFound
from coordinator.store.schema import case_owners, members, requests
from coordinator.usecases import unit
from coordinator.usecases.acting import Acting


class Subject(StrEnum):
    REQUEST = "request"
    MEMBER = "member"  # an applicant in the vetting queue


class Change(StrEnum):
    TAKE = "take"
    HAND_OVER = "hand_over"
    RELEASE = "release"


@dataclass(frozen=True)
class Ownership:
    subject: str
    kind: str
    owner: str | None  # after the change (unchanged when refused)
    changed: bool
    code: str  # "taken", "handed_over", "released", or why nothing changed
    message: str


def _subject(ident: str) -> Subject:
    return Subject.MEMBER if ident.startswith("@") else Subject.REQUEST


async def change(
    engine: AsyncEngine,
    by: Acting,
    what: Change,
    ident: str,
    *,
    staff: Collection[str],
    now: datetime,
    audit_key: AuditKey,
    to: str | None = None,
) -> Ownership:
    """Take ``ident`` (a request id, or an applicant's Matrix id) for ``by``, hand it to
    ``to``, or release it. Taking one another staff member owns is refused (they hand it
    over); only its owner hands over or releases a case."""
    ident = ident.strip()[:200]
    kind = _subject(ident)

    async def body(tx: unit.Tx) -> Ownership:
        unknown = NotFound(kind.value, ident)
        hidden = Ownership(ident, kind.value, None, False, unknown.code, unknown.message)
        if kind is Subject.REQUEST:
            found = sa.select(requests.c.id).where(requests.c.id == ident)
        else:  # only an applicant: a vetted member is no longer a case
            found = sa.select(members.c.id).where(
                members.c.id == ident, members.c.status == "applicant"
            )
        exists = await tx.conn.scalar(found)
        if not by.staff or by.user not in staff or exists is None:
            tx.audit(f"desk.{what.value}_refused", ident or "-", reason="unknown_or_not_staff")
            return hidden
        key = sa.and_(case_owners.c.subject == ident, case_owners.c.kind == kind.value)
        current = await tx.conn.scalar(sa.select(case_owners.c.owner).where(key))

        def refuse(code: str, message: str) -> Ownership:
            tx.audit(f"desk.{what.value}_refused", ident, reason=code)
            return Ownership(ident, kind.value, current, False, code, message)

        if what is Change.TAKE:
            if current == by.user:
                return refuse("already_yours", f"{ident} is already yours.")
            if current is not None:
                return refuse(
                    "owned_by_another", f"{current} owns {ident}; they can hand it over to you."
                )
            await tx.conn.execute(
                case_owners.insert().values(
                    subject=ident, kind=kind.value, owner=by.user, since=tx.now
                )
            )
            tx.audit("desk.taken", ident, kind=kind.value)
            return Ownership(ident, kind.value, by.user, True, "taken", f"{ident} is yours now.")
        if current != by.user:
            return refuse("not_yours", f"Only the owner of {ident} can hand it over or release it.")
        if what is Change.RELEASE:
            await tx.conn.execute(case_owners.delete().where(key))
            tx.audit("desk.released", ident, kind=kind.value)
            return Ownership(
                ident, kind.value, None, True, "released", f"{ident} has no owner now."
            )
        target = (to or "").strip()
        if target not in staff or target == by.user:
            return refuse("not_staff", "Hand it over to another staff member (their Matrix id).")
        await tx.conn.execute(case_owners.update().where(key).values(owner=target, since=tx.now))
        tx.audit("desk.handed_over", ident, kind=kind.value, to=target)
        return Ownership(
            ident, kind.value, target, True, "handed_over", f"{ident} is {target}'s now."
        )

    return await unit.run(
        engine,
        name=f"desk.{what.value}",
        actor=by.user,
        now=now,
        event_id=None,
        result_type=Ownership,
        body=body,
        audit_key=audit_key,
    )
