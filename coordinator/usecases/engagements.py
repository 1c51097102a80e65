"""Closing an engagement (with the retention purge) and the Integrity review."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from coordinator import notifications as n
from coordinator import retention
from coordinator.domain import (
    DomainError,
    EngagementState,
    MembershipStatus,
    RequestState,
    Review,
    advance,
)
from coordinator.store.schema import engagements, notations, organizations, requests, reviews
from coordinator.usecases import forgetting, ownership, rows, validate
from coordinator.usecases.acting import Acting
from coordinator.usecases.context import Context
from coordinator.usecases.removal import remove_member
from coordinator.usecases.results import CloseResult, ReviewResult
from coordinator.usecases.trust import tg_status
from coordinator.usecases.unit import Tx


async def close(
    ctx: Context, tx: Tx, by: Acting, engagement_id: str, archive: bool = False
) -> CloseResult:
    """The routing partner closes its engagement (staff: any); the case is purged."""
    eng = await ownership.engagement(tx.conn, by, engagement_id, lock=True)
    advance(eng.state, EngagementState.CLOSED)
    req = await rows.request(tx.conn, eng.request, lock=True)
    advance(req.state, RequestState.CLOSED)
    archived = False
    if archive:
        consent = (
            await tx.conn.execute(
                sa.select(organizations.c.archive_consent).where(
                    organizations.c.id == req.organization
                )
            )
        ).scalar_one_or_none()
        if not consent:
            raise DomainError(
                "no_archive_consent",
                "The organization has not consented to an archive; close with archive=no.",
            )
        values = await retention.sealed_rows(tx.conn, req.organization or "", req.id)
        await retention.write_archive(Path(ctx.config.data_dir) / "archive", eng.id, values)
        archived = True
    await tx.conn.execute(
        engagements.update()
        .where(engagements.c.id == eng.id)
        .values(state=EngagementState.CLOSED.value, closed_at=tx.now, archive=archived)
    )
    await tx.conn.execute(
        requests.update()
        .where(requests.c.id == req.id)
        .values(state=RequestState.CLOSED.value, closed_at=tx.now)
    )
    purged = await retention.purge_case(tx.conn, req.id, req.organization, sorted(req.skills))
    # The closing notice is the one message of the bot's that stays in the room.
    notice = await tx.notify(
        n.EngagementRoom(eng.id), n.EngagementClosed(eng.id, n.CloseCause.CLOSED)
    )
    await forgetting.close_room(tx, eng.id, eng.provider, notice)
    tx.audit("engagement.closed", eng.id, request=req.id, purged=purged, archived=archived)
    return CloseResult(eng.id, purged, archived)


async def review(
    ctx: Context,
    tx: Tx,
    by: Acting,
    engagement_id: str,
    conduct: int,
    contract: int,
    communication: int,
    code_of_conduct_violation: bool = False,
) -> ReviewResult:
    """Integrity review: a satisfactory one adds a notation (and ends probation); a
    code-of-conduct violation removes the provider from the network. Only the routing
    partner reviews its engagement: a review speaks in its name, so staff cannot."""
    if not by.is_system:
        ownership.answering_partner(by)
    verdict = Review(
        engagement_id,
        validate.rating("conduct", conduct),
        validate.rating("contract", contract),
        validate.rating("communication", communication),
        bool(code_of_conduct_violation),
    )
    eng = await ownership.engagement(tx.conn, by, engagement_id, lock=True)
    advance(eng.state, EngagementState.REVIEWED)
    await tx.conn.execute(
        engagements.update()
        .where(engagements.c.id == eng.id)
        .values(state=EngagementState.REVIEWED.value)
    )
    await tx.conn.execute(
        reviews.insert().values(
            engagement=eng.id,
            provider=eng.provider,
            conduct=verdict.conduct,
            contract=verdict.contract,
            communication=verdict.communication,
            violation=verdict.code_of_conduct_violation,
            at=tx.now,
        )
    )
    tx.audit(
        "engagement.reviewed",
        eng.id,
        conduct=verdict.conduct,
        contract=verdict.contract,
        communication=verdict.communication,
        violation=verdict.code_of_conduct_violation,
    )
    notation = promoted = removed = False
    if verdict.satisfactory:
        await tx.conn.execute(
            notations.insert().values(
                member=eng.provider, kind="satisfactory_review", engagement=eng.id, at=tx.now
            )
        )
        notation = True
        provider = await rows.member(tx.conn, eng.provider, lock=True)
        if provider.status is MembershipStatus.POD:
            status = advance(provider.status, MembershipStatus.ACTIVE)
            await rows.set_member_status(tx.conn, eng.provider, status)
            ctx.trust.graph.set_status(eng.provider, tg_status(status))
            tx.trust_changed = True
            ctx.trust.changed()
            promoted = True
            tx.audit("member.promoted", eng.provider)
    elif verdict.code_of_conduct_violation:
        provider = await rows.member(tx.conn, eng.provider)
        if provider.status is not MembershipStatus.REMOVED:
            await remove_member(ctx, tx, eng.provider, "code_of_conduct")
            removed = True
    return ReviewResult(eng.id, verdict.satisfactory, notation, promoted, removed)
