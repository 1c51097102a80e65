"""Reading domain objects from rows, with row locks where a decision depends on them."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.domain import (
    EngagementState,
    MemberKind,
    MembershipStatus,
    NotFound,
    ProposalState,
    RequestState,
    Tier,
    Urgency,
)
from coordinator.domain.model import (
    Engagement,
    Member,
    Organization,
    Partner,
    Proposal,
    Provider,
    Request,
)
from coordinator.store.clock import aware
from coordinator.store.schema import (
    engagements,
    members,
    organizations,
    partners,
    proposals,
    providers,
    requests,
)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _locked(conn: AsyncConnection, query: sa.Select) -> sa.Select:
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


async def _one(conn: AsyncConnection, query: sa.Select, what: str, ident: str, lock: bool) -> Any:
    if lock:
        query = _locked(conn, query)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(what, ident)
    return row


async def member(conn: AsyncConnection, member_id: str, lock: bool = False) -> Member:
    row = await _one(
        conn, sa.select(members).where(members.c.id == member_id), "member", member_id, lock
    )
    return Member(row.id, MemberKind(row.kind), MembershipStatus(row.status))


async def partner(conn: AsyncConnection, handle: str) -> Partner:
    row = await _one(
        conn,
        sa.select(partners, members.c.status)
        .join(members, members.c.id == partners.c.handle)
        .where(partners.c.handle == handle),
        "partner",
        handle,
        False,
    )
    if row.status == MembershipStatus.REMOVED.value:
        raise NotFound("partner", handle)
    return Partner(row.handle, tuple(row.rooms), tuple(row.members), row.is_global)


async def provider(conn: AsyncConnection, provider_id: str, lock: bool = False) -> Provider:
    row = await _one(
        conn,
        sa.select(providers, members.c.status)
        .join(members, members.c.id == providers.c.id)
        .where(providers.c.id == provider_id),
        "provider",
        provider_id,
        lock,
    )
    return provider_from_row(row)


def provider_from_row(row: Any) -> Provider:
    return Provider(
        id=row.id,
        status=MembershipStatus(row.status),
        skills=frozenset(row.skills),
        languages=frozenset(row.languages),
        regions=frozenset(row.regions),
        capacity=row.capacity,
        tier=Tier(row.tier),
        organizations=frozenset(row.organizations),
    )


async def organization(conn: AsyncConnection, org_id: str) -> Organization:
    row = await _one(
        conn,
        sa.select(organizations, members.c.status)
        .join(members, members.c.id == organizations.c.id)
        .where(organizations.c.id == org_id),
        "organization",
        org_id,
        False,
    )
    return Organization(
        row.id, row.partner, MembershipStatus(row.status), row.region, frozenset(row.areas)
    )


def request_from_row(row: Any) -> Request:
    return Request(
        id=row.id,
        organization=row.organization,
        partner=row.partner,
        skills=frozenset(row.skills),
        languages=frozenset(row.languages),
        region=row.region,
        urgency=Urgency(row.urgency),
        state=RequestState(row.state),
        filed_at=aware(row.filed_at),
        room=row.room,
    )


async def request(conn: AsyncConnection, request_id: str, lock: bool = False) -> Request:
    row = await _one(
        conn, sa.select(requests).where(requests.c.id == request_id), "request", request_id, lock
    )
    return request_from_row(row)


async def proposal(conn: AsyncConnection, proposal_id: str, lock: bool = False) -> Proposal:
    row = await _one(
        conn,
        sa.select(proposals).where(proposals.c.id == proposal_id),
        "proposal",
        proposal_id,
        lock,
    )
    return Proposal(
        id=row.id,
        request=row.request,
        provider=row.provider,
        state=ProposalState(row.state),
        path=tuple(row.path),
        approvals_needed=tuple(row.approvals_needed),
        approvals=tuple(row.approvals),
        created_at=aware(row.created_at),
    )


async def engagement(conn: AsyncConnection, engagement_id: str, lock: bool = False) -> Engagement:
    row = await _one(
        conn,
        sa.select(engagements).where(engagements.c.id == engagement_id),
        "engagement",
        engagement_id,
        lock,
    )
    return Engagement(
        id=row.id,
        request=row.request,
        proposal=row.proposal,
        provider=row.provider,
        partner=row.partner,
        state=EngagementState(row.state),
        opened_at=aware(row.opened_at),
    )


async def provider_loads(conn: AsyncConnection) -> dict[str, int]:
    """Pending proposals plus open engagements, per provider."""
    loads: dict[str, int] = {}
    pending = await conn.execute(
        sa.select(proposals.c.provider, sa.func.count())
        .where(proposals.c.state == ProposalState.PENDING.value)
        .group_by(proposals.c.provider)
    )
    for pid, n in pending:
        loads[pid] = loads.get(pid, 0) + n
    engaged = await conn.execute(
        sa.select(engagements.c.provider, sa.func.count())
        .where(engagements.c.state == EngagementState.OPEN.value)
        .group_by(engagements.c.provider)
    )
    for pid, n in engaged:
        loads[pid] = loads.get(pid, 0) + n
    return loads


async def set_member_status(
    conn: AsyncConnection, member_id: str, status: MembershipStatus
) -> None:
    await conn.execute(
        members.update().where(members.c.id == member_id).values(status=status.value)
    )
