"""Membership use cases: partners, providers, organizations, vouches and vetting."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import sqlalchemy as sa

from coordinator.domain import (
    DomainError,
    Forbidden,
    MemberKind,
    MembershipStatus,
    NotFound,
    Tier,
    VouchKind,
    advance,
)
from coordinator.store.schema import members, organizations, partners, providers, vouches
from coordinator.store.sealed import ORG_SCOPE, ORGANIZATION_PREFIX
from coordinator.store.sealed import store as store_sealed
from coordinator.usecases import ownership, rows, validate, vetting
from coordinator.usecases.acting import Acting
from coordinator.usecases.context import Context
from coordinator.usecases.results import MemberResult, PathResult, VetResult, VouchResult
from coordinator.usecases.trust import bump_version, tg_edge, tg_kind, tg_status
from coordinator.usecases.unit import Tx


def trust_changed(ctx: Context, tx: Tx) -> None:
    tx.trust_changed = True
    ctx.trust.changed()


async def _insert_member(
    ctx: Context, tx: Tx, member_id: str, kind: MemberKind, status: MembershipStatus
) -> None:
    exists = (
        await tx.conn.execute(sa.select(members.c.id).where(members.c.id == member_id))
    ).first()
    if exists:
        raise DomainError("member_exists", f"{member_id} is already a member of the network.")
    await tx.conn.execute(
        members.insert().values(
            id=member_id, kind=kind.value, status=status.value, created_at=tx.now
        )
    )
    ctx.trust.graph.add_member(member_id, tg_kind(kind), tg_status(status))
    trust_changed(ctx, tx)


async def register_partner(
    ctx: Context,
    tx: Tx,
    handle: str,
    rooms: Iterable[str],
    members_: Iterable[str],
    is_global: bool = False,
) -> MemberResult:
    """Register a formal partner (a seed of the trust graph), or update its rooms."""
    handle = validate.handle("partner", handle)
    rooms = sorted(set(rooms))
    people = sorted({validate.mxid("members", m) for m in members_})
    found = (await tx.conn.execute(sa.select(partners).where(partners.c.handle == handle))).first()
    unchanged = found is not None and (
        (list(found.rooms), list(found.members), found.is_global) == (rooms, people, is_global)
    )
    if unchanged:
        pass  # a restart re-reads the configuration: nothing to record
    elif found:
        await tx.conn.execute(
            partners.update()
            .where(partners.c.handle == handle)
            .values(rooms=rooms, members=people, is_global=is_global)
        )
        tx.audit("partner.updated", handle, rooms=len(rooms), members=len(people))
    else:
        await _insert_member(ctx, tx, handle, MemberKind.PARTNER, MembershipStatus.ACTIVE)
        await tx.conn.execute(
            partners.insert().values(
                handle=handle, rooms=rooms, members=people, is_global=is_global
            )
        )
        ctx.trust.seeds = tuple(sorted({*ctx.trust.seeds, handle}))
        tx.audit("partner.registered", handle, is_global=is_global, rooms=len(rooms))
    return MemberResult(handle, MemberKind.PARTNER.value, MembershipStatus.ACTIVE.value)


async def add_provider(
    ctx: Context,
    tx: Tx,
    provider_id: str,
    skills: Iterable[str],
    languages: Iterable[str],
    regions: Iterable[str],
    capacity: int,
    tier: Tier = Tier.PRIMARY,
    organizations_: Iterable[str] = (),
) -> MemberResult:
    provider_id = validate.mxid("provider", provider_id)
    skill_set = validate.tags("skills", skills, required=True)
    langs = validate.languages("langs", languages, required=True)
    region_set = sorted({v for r in regions if r and (v := validate.region("regions", r))})
    orgs = sorted({validate.handle("organizations", o) for o in organizations_})
    capacity = validate.capacity(capacity)
    tier = Tier(tier)
    await _insert_member(ctx, tx, provider_id, MemberKind.PROVIDER, MembershipStatus.APPLICANT)
    await tx.conn.execute(
        providers.insert().values(
            id=provider_id,
            skills=sorted(skill_set),
            languages=sorted(langs),
            regions=region_set,
            capacity=capacity,
            tier=tier.value,
            organizations=orgs,
        )
    )
    tx.audit("provider.added", provider_id, capacity=capacity, tier=tier.value)
    await vetting.notify(ctx, tx, provider_id, "new applicant", new=True)
    return MemberResult(provider_id, MemberKind.PROVIDER.value, MembershipStatus.APPLICANT.value)


async def add_organization(
    ctx: Context,
    tx: Tx,
    org_id: str | None,
    partner: str,
    region: str | None = None,
    areas: Iterable[str] = (),
    name: str | None = None,
    contact: str | None = None,
    archive_consent: bool = False,
    note: str | None = None,
) -> MemberResult:
    """Add an organization a partner works with. Its id is opaque (``o-…``, assigned
    here when ``org_id`` is None, as adapters always pass): the name, the contact and any
    free text are sealed at once and stored nowhere in plain text (docs/security.md).
    A given ``org_id`` is the trusted shorthand of seeding and tests."""
    org_id = validate.handle("organization", org_id) if org_id else new_organization_id()
    await rows.partner(tx.conn, partner)
    region = validate.region("region", region)
    area_set = validate.tags("areas", areas)
    name = validate.text("name", name, 300)
    contact = validate.text("contact", contact, 1000)
    note = validate.text("note", note)
    await _insert_member(ctx, tx, org_id, MemberKind.ORGANIZATION, MembershipStatus.APPLICANT)
    await tx.conn.execute(
        organizations.insert().values(
            id=org_id,
            partner=partner,
            region=region,
            areas=sorted(area_set),
            archive_consent=archive_consent,
        )
    )
    for field, value in (("name", name), ("contact", contact), ("note", note)):
        if value:
            await store_sealed(tx.conn, ctx.require_sealer(), org_id, ORG_SCOPE, field, value)
    tx.audit("organization.added", org_id, partner=partner, consent=archive_consent)
    await vetting.notify(ctx, tx, org_id, "new applicant", new=True)
    return MemberResult(org_id, MemberKind.ORGANIZATION.value, MembershipStatus.APPLICANT.value)


def new_organization_id() -> str:
    """An organization's id: random, so it says nothing about whom it stands for."""
    return f"{ORGANIZATION_PREFIX}{secrets.token_hex(6)}"


async def _live_member(tx: Tx, member_id: str, role: str):
    try:
        found = await rows.member(tx.conn, member_id)
    except NotFound:
        raise NotFound(role, member_id) from None
    if found.status is MembershipStatus.REMOVED:
        raise DomainError("member_removed", f"{member_id} was removed from the network.")
    return found


async def author_for(tx: Tx, by: Acting, on_behalf_of: str | None = None) -> str:
    """Whose edge a caller may write: their own partner's, or that of an organization
    this partner brought into the network (organizations have no Matrix account, so
    their partner records references for them).

    Anything else, another partner included, is answered exactly as an organization that
    does not exist, so the refusal reveals nothing about other partners' members.
    """
    partner = ownership.answering_partner(
        by, "Vouches and references are recorded from a partner room."
    )
    if on_behalf_of is None or on_behalf_of == partner:
        return partner
    row = (
        await tx.conn.execute(
            sa.select(members.c.status, organizations.c.partner)
            .select_from(members.outerjoin(organizations, organizations.c.id == members.c.id))
            .where(members.c.id == on_behalf_of)
        )
    ).first()
    if row is None or row.status == MembershipStatus.REMOVED.value:
        raise NotFound("organization", on_behalf_of)
    if row.partner != partner:  # another partner, its organization, or a provider
        raise Forbidden("organization", on_behalf_of, "not_this_partners_organization")
    return on_behalf_of


async def record_edge(
    ctx: Context,
    tx: Tx,
    by: Acting,
    target: str,
    kind: VouchKind = VouchKind.VOUCH,
    on_behalf_of: str | None = None,
) -> VouchResult:
    """A vouch or reference entered by ``by``, authored by whom ``by`` may speak for."""
    author = await author_for(tx, by, on_behalf_of)
    return await vouch(ctx, tx, author, target, kind, entered_for=by.partner)


async def remove_edge(
    ctx: Context, tx: Tx, by: Acting, target: str, on_behalf_of: str | None = None
) -> VouchResult:
    """Withdraw an edge that ``by`` may speak for; never anyone else's."""
    author = await author_for(tx, by, on_behalf_of)
    return await unvouch(ctx, tx, author, target)


async def vouch(
    ctx: Context,
    tx: Tx,
    author: str,
    target: str,
    kind: VouchKind = VouchKind.VOUCH,
    entered_for: str | None = None,
) -> VouchResult:
    """Write ``author``'s edge. Trusted: adapters go through ``record_edge``, which
    decides the author from the caller; this is for the core, seeding and tests."""
    kind = VouchKind(kind)
    if author == target:
        raise DomainError("self_vouch", "A member cannot vouch for themselves.")
    voucher = await _live_member(tx, author, "voucher")
    vouched = await _live_member(tx, target, "member")
    if voucher.status is MembershipStatus.POD:
        raise DomainError(
            "probation_cannot_vouch",
            f"{author} is still in the probation pod and cannot vouch yet.",
        )
    if voucher.status is not MembershipStatus.ACTIVE:
        raise DomainError(
            "voucher_not_trusted", f"{author} is not an active, vetted member and cannot vouch."
        )
    existing = (
        await tx.conn.execute(
            sa.select(vouches.c.kind).where(vouches.c.author == author, vouches.c.target == target)
        )
    ).first()
    if existing is None:
        await tx.conn.execute(
            vouches.insert().values(author=author, target=target, kind=kind.value, at=tx.now)
        )
    elif existing.kind != kind.value:
        await tx.conn.execute(
            vouches.update()
            .where(vouches.c.author == author, vouches.c.target == target)
            .values(kind=kind.value, at=tx.now)
        )
    if existing is None or existing.kind != kind.value:
        ctx.trust.graph.vouch(author, target, kind=tg_edge(kind), at=tx.now)
        trust_changed(ctx, tx)
        entry = {"author": author}
        if entered_for is not None and entered_for != author:
            entry["entered_by_partner"] = entered_for
        tx.audit(f"trust.{kind.value}", target, **entry)
        if vouched.status is MembershipStatus.APPLICANT:
            await vetting.notify(ctx, tx, target, f"{kind.value} from {author}")
    return VouchResult(author, target, kind.value, True)


async def unvouch(ctx: Context, tx: Tx, author: str, target: str) -> VouchResult:
    existing = (
        await tx.conn.execute(
            sa.select(vouches.c.kind).where(vouches.c.author == author, vouches.c.target == target)
        )
    ).first()
    if existing is None:
        raise DomainError("no_such_vouch", f"{author} has not vouched for {target}.")
    await tx.conn.execute(
        vouches.delete().where(vouches.c.author == author, vouches.c.target == target)
    )
    ctx.trust.graph.revoke(author, target)
    trust_changed(ctx, tx)
    tx.audit("trust.unvouch", target, author=author)
    found = await rows.member(tx.conn, target)
    if found.status is MembershipStatus.APPLICANT:
        await vetting.notify(ctx, tx, target, f"{existing.kind} from {author} withdrawn")
    return VouchResult(author, target, existing.kind, False)


async def vet(ctx: Context, tx: Tx, by: Acting, member_id: str) -> VetResult:
    """Ask the trust graph; an eligible applicant moves on (providers into the pod).

    ``by`` may ask about partners, providers and its own organizations (staff: any);
    another partner's organization is answered as a member that does not exist, and
    such organizations on the path shown are left unnamed."""
    await ownership.member(tx.conn, by, member_id)
    found = await _live_member(tx, member_id, "member")
    asking = by.partner
    seeds = ctx.trust.seeds
    decision = ctx.trust.graph.vet(
        member_id, ctx.trust.policy, seeds, asking=asking if asking in seeds else None
    )
    status = found.status
    if decision.eligible and status is MembershipStatus.APPLICANT:
        target = (
            MembershipStatus.POD if found.kind is MemberKind.PROVIDER else MembershipStatus.ACTIVE
        )
        status = advance(status, target)
        await rows.set_member_status(tx.conn, member_id, status)
        ctx.trust.graph.set_status(member_id, tg_status(status))
        trust_changed(ctx, tx)
        await vetting.notify_left(ctx, tx, decision, found.kind.value, status.value)
    codes = tuple(r.code for r in decision.reasons)
    tx.audit(
        "trust.vet", member_id, eligible=decision.eligible, status=status.value, reasons=list(codes)
    )
    return VetResult(
        member=member_id,
        eligible=decision.eligible,
        status=status.value,
        probation=status is MembershipStatus.POD,
        reasons=codes,
        messages=tuple(r.message for r in decision.reasons),
        path=await ownership.redact_path(tx.conn, by, tuple(decision.shortest_path or ())),
    )


async def path(ctx: Context, tx: Tx, by: Acting, member_id: str, source: str | None) -> PathResult:
    """The shortest vouching path from ``source`` (the caller's partner by default) to a
    member. Both ends are checked like ``vet``'s member: another partner's organization
    and an unknown id get the same answer."""
    if source is None:
        if by.partner is None:
            raise DomainError("missing_source", "In the staff room, say from=<member>.")
        source = by.partner
    await ownership.member(tx.conn, by, member_id)
    await ownership.member(tx.conn, by, source)
    found = ctx.trust.paths_from([source]).get(member_id) or ()
    return PathResult(source, member_id, await ownership.redact_path(tx.conn, by, tuple(found)))


async def finish_trust(ctx: Context, tx: Tx) -> None:
    """Bump the shared trust version when this transaction changed trust."""
    if tx.trust_changed:
        version = await bump_version(tx.conn)

        def _applied() -> None:
            ctx.trust.version = version

        tx.after_commit.append(_applied)
