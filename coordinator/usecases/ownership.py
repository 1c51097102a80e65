"""What is the caller's: the ownership checks every use case makes before it reads or
changes a case or a member (docs/security.md, "Who may do what").

They live in the core so a room command, a dashboard action, the CLI and the API get
one answer. A partner acts on its own requests, engagements and organizations, and on
the proposals that need its approval; staff and the system see everything. What is
another's is refused with ``Forbidden``: word for word the answer for an id that does
not exist, audited by ``Coordinator.transaction``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from coordinator.domain import Forbidden, MemberKind, MembershipStatus, NotFound, Refused
from coordinator.domain.model import Engagement, Member, Organization, Proposal, Request
from coordinator.store.schema import members, organizations
from coordinator.usecases import rows
from coordinator.usecases.acting import Acting

HIDDEN = "(an organization)"  # another partner's organization on a vouching path


def answering_partner(
    by: Acting, message: str = "This works only in a registered partner room."
) -> str:
    """The partner in whose name ``by`` acts. Staff do not act in a partner's name
    (file, approve, decline, withdraw, review, vouch): that needs a partner room. Checked
    before anything is looked up, so the answer is the same for every id."""
    if by.partner is None:
        raise Refused("not_a_partner_room", message, "no_partner")
    return by.partner


async def request(
    conn: AsyncConnection, by: Acting, request_id: str, *, lock: bool = False
) -> Request:
    """A request its filing partner may act on (refer, refuse); staff: any."""
    req = await rows.request(conn, request_id, lock=lock)
    if by.sees_all or (by.partner is not None and by.partner == req.partner):
        return req
    raise Forbidden("request", request_id, "not_this_partners_request")


async def proposal(
    conn: AsyncConnection,
    by: Acting,
    proposal_id: str,
    *,
    lock: bool = False,
    provider_may: bool = False,
) -> tuple[Proposal, str]:
    """A proposal and who answers it: each partner whose approval it needs (a
    two-partner proposal belongs to both), or, with ``provider_may`` (a decline), its
    provider. Anyone else reads it as a proposal that does not exist; staff are told
    that answering a proposal needs a partner room."""
    if by.sees_all:
        answering_partner(by)
    party = by.partner if by.partner is not None else by.user
    prop = await rows.proposal(conn, proposal_id, lock=lock)
    if party in prop.approvals_needed or (provider_may and party == prop.provider):
        return prop, party
    raise Forbidden("proposal", proposal_id, "not_this_partners_proposal")


async def engagement(
    conn: AsyncConnection, by: Acting, engagement_id: str, *, lock: bool = False
) -> Engagement:
    """An engagement its routing partner may close or review; staff: any."""
    eng = await rows.engagement(conn, engagement_id, lock=lock)
    if by.sees_all or (by.partner is not None and by.partner == eng.partner):
        return eng
    raise Forbidden("engagement", engagement_id, "not_this_partners_engagement")


async def organization(conn: AsyncConnection, partner: str, org_id: str) -> Organization:
    """An organization ``partner`` may file a request for: only its own, whoever asks
    (even the system files only in the organization's own partner's name)."""
    org = await rows.organization(conn, org_id)
    if org.partner == partner:
        return org
    raise Forbidden("organization", org_id, "not_this_partners_organization")


async def _org_partners(conn: AsyncConnection, ids: set[str]) -> dict[str, str | None]:
    found = await conn.execute(
        sa.select(organizations.c.id, organizations.c.partner).where(organizations.c.id.in_(ids))
    )
    return {r.id: r.partner for r in found}


async def member(conn: AsyncConnection, by: Acting, member_id: str) -> Member:
    """A member ``by`` may ask about (vet, path): partners and providers, and the
    caller's own organizations. Another partner's organization is a member that does not
    exist, whatever its state (a removed one included)."""
    row = (
        await conn.execute(
            sa.select(members.c.kind, members.c.status).where(members.c.id == member_id)
        )
    ).first()
    if row is None:
        raise NotFound("member", member_id)
    found = Member(member_id, MemberKind(row.kind), MembershipStatus(row.status))
    if found.kind is MemberKind.ORGANIZATION and not by.sees_all:
        owner = (await _org_partners(conn, {member_id})).get(member_id)
        if by.partner is None or owner != by.partner:
            raise Forbidden("member", member_id, "not_this_partners_organization")
    return found


async def redact_path(conn: AsyncConnection, by: Acting, path: tuple[str, ...]) -> tuple[str, ...]:
    """A vouching path as ``by`` may see it: other partners' organizations unnamed."""
    if by.sees_all or not path:
        return path
    owners = await _org_partners(conn, set(path))
    return tuple(HIDDEN if m in owners and owners[m] != by.partner else m for m in path)


def staff(by: Acting, what: str, ident: str) -> None:
    """Staff's own acts (removing a member): anyone else reads the target as unknown."""
    if not by.sees_all:
        raise Forbidden(what, ident, "staff_only")
