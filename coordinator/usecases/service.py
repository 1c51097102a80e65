"""The coordinator's public API: every use case as one awaitable method.

Each call is one transaction (see ``unit.run``). ``actor`` is who asked (a Matrix
user id or "system"); ``event_id`` is the Matrix event that caused the call, which
makes a redelivered event a no-op that returns the first result. Use cases within one
process run one at a time (PostgreSQL serialises their commits on the audit chain
anyway), which keeps the in-memory trust graph consistent with the database.

Who may do what (docs/security.md, "Who may do what"): a method that takes ``by`` (an
``Acting``) checks in the core that the caller may act on what it names
(``ownership.py``) and refuses anything else like an unknown id; adapters always pass
one. There a bare handle, or nothing, is the trusted shorthand for the core's own
callers (the SLA loop, demo seeding, benchmarks, tests): the system, in that partner's
name. Methods without ``by`` (registering partners, adding members, ``vouch``/``unvouch``,
``route``, ``open_engagement``, the batch, SLA and purge jobs) are trusted: only the core,
seeding and tests call them, or an adapter with the partner of the room it serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator import audit, retention
from coordinator import audit_key as audit_keys
from coordinator.audit_key import AuditKey
from coordinator.config import Config
from coordinator.domain import DomainError, Forbidden, Refused, Tier, Urgency, VouchKind
from coordinator.sealing import PublicSealer
from coordinator.store import Inbox, Outbox, create_engine, migrate
from coordinator.store.clock import utcnow
from coordinator.store.renames import finish_renames
from coordinator.usecases import (
    anchoring,
    batch,
    cases,
    engagements,
    matching,
    members,
    messages,
    ownership,
    queries,
    removal,
    unit,
    vetting,
)
from coordinator.usecases.acting import Acting
from coordinator.usecases.acting import caller as as_caller
from coordinator.usecases.batch import BatchRouteResult
from coordinator.usecases.context import Context
from coordinator.usecases.queries import RequestStatus
from coordinator.usecases.results import (
    AnchorResult,
    ApprovalResult,
    CaseOutcome,
    CloseResult,
    DeclineResult,
    EngagementResult,
    IdentityConfirmation,
    IntakePurge,
    MemberResult,
    PathResult,
    RemovalResult,
    RequestResult,
    ReviewResult,
    RouteResult,
    SlaResult,
    VetResult,
    VouchResult,
    Withdrawn,
)
from coordinator.usecases.trust import TrustIndex
from coordinator.usecases.unit import Tx

R = TypeVar("R")
SYSTEM = "system"


class Coordinator:
    def __init__(
        self,
        engine: AsyncEngine,
        config: Config,
        sealer: PublicSealer | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        audit_key: AuditKey,
    ):
        self.engine = engine
        self.config = config
        # Every audit entry is keyed with it (coordinator/audit_key.py); there is no default.
        self.audit_key = audit_key
        self.ctx = Context(config, TrustIndex(config.policy), sealer, clock)
        self.outbox = Outbox(engine, clock, dead_notice=self._dead_notice)
        self.inbox = Inbox(engine)
        self._lock = asyncio.Lock()

    def _dead_notice(self, room: str, message_id: str, code: str) -> tuple[str, dict] | None:
        """The staff-room notice for a message given up on (ids and a code, no content)."""
        staff_room = self.ctx.staff_room
        if not staff_room:
            return None
        text = (
            f"A message to {room} was given up on after repeated failures ({code}); "
            f"message {message_id}. Once the cause is fixed, an operator can send it "
            "again with `dsx outbox retry --dead`."
        )
        return staff_room, messages.staff(text, kind="outbox_dead", message=message_id, code=code)

    @classmethod
    async def open(
        cls,
        config: Config,
        *,
        url: str | None = None,
        sealer: PublicSealer | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Coordinator:
        """Migrate, connect, load the audit key, rebuild the trust graph and register
        configured partners. A configuration file without its audit key fails here
        (``AuditKeyError``), before anything is written."""
        url = url or config.database_url
        audit_keys.require(config)  # fail before migrating when the file's key is missing
        await migrate(url)
        engine = create_engine(url)
        try:
            key = await audit_keys.for_config(config, engine)
        except BaseException:
            await engine.dispose()
            raise
        coordinator = cls(engine, config, sealer, clock, audit_key=key)
        await coordinator.start()
        return coordinator

    async def start(self) -> None:
        # Old organizations' handles, parked by a migration, are sealed as their names.
        await finish_renames(self.engine, self.ctx.sealer)
        async with self.engine.connect() as conn:
            await self.ctx.trust.load(conn)
        await self.sync_partners()

    async def aclose(self) -> None:
        await self.engine.dispose()

    @property
    def trust(self) -> TrustIndex:
        return self.ctx.trust

    async def transaction(
        self,
        name: str,
        body: Callable[[Tx], Awaitable[R]],
        result_type: type[R],
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> R:
        """Run ``body`` as one use case named ``name``: one transaction with its audit
        entries, outbox rows and idempotency key (``event_id``), the trust graph refreshed
        before and kept consistent after.

        Every method below is one such call; adapters (the room workflow) use it to group
        several use cases, or a use case and its rendering, into one unit of work.
        ``result_type`` is the dataclass a duplicate ``event_id`` gets back from the inbox.
        """
        async with self._lock:
            trust = self.ctx.trust

            async def wrapped(tx: Tx) -> R:
                # Another process may have changed trust since: rebuild in this transaction.
                await trust.refresh(tx.conn)
                result = await body(tx)
                await members.finish_trust(self.ctx, tx)
                return result

            async def rollback() -> None:
                if trust.dirty:
                    async with self.engine.connect() as conn:
                        await trust.load(conn)

            try:
                result = await unit.run(
                    self.engine,
                    name=name,
                    actor=actor,
                    now=self.ctx.clock(),
                    event_id=event_id,
                    result_type=result_type,
                    body=wrapped,
                    audit_key=self.audit_key,
                    on_rollback=rollback,
                )
            except (Forbidden, Refused) as refused:
                await self._audit_refusal(name, actor, refused)
                raise
            trust.dirty = False
            return result

    async def _audit_refusal(self, name: str, actor: str, refused: Forbidden | Refused) -> None:
        """A refused attempt on something not the caller's leaves a trace for staff (the
        use case itself rolled back, so this is its own small transaction)."""
        record = audit.AuditRecord(actor, "refused", name, {"reason": refused.reason})
        async with self.engine.begin() as conn:
            await audit.append(conn, [record], self.ctx.clock(), self.audit_key)

    # -- membership ------------------------------------------------------------------

    async def sync_partners(self) -> None:
        """Register (or update) the partners listed in the configuration."""
        for partner in self.config.partners:
            await self.register_partner(
                partner.handle, partner.rooms, partner.members, partner.is_global
            )

    async def register_partner(
        self,
        handle: str,
        rooms: Iterable[str] = (),
        members_: Iterable[str] = (),
        is_global: bool = False,
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> MemberResult:
        rooms, members_ = tuple(rooms), tuple(members_)
        return await self.transaction(
            "register_partner",
            lambda tx: members.register_partner(self.ctx, tx, handle, rooms, members_, is_global),
            MemberResult,
            actor,
            event_id,
        )

    async def add_provider(
        self,
        provider_id: str,
        skills: Iterable[str],
        languages: Iterable[str],
        regions: Iterable[str] = (),
        capacity: int = 1,
        tier: Tier = Tier.PRIMARY,
        organizations: Iterable[str] = (),
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> MemberResult:
        skills, languages, regions = tuple(skills), tuple(languages), tuple(regions)
        organizations = tuple(organizations)
        return await self.transaction(
            "add_provider",
            lambda tx: members.add_provider(
                self.ctx, tx, provider_id, skills, languages, regions, capacity, tier, organizations
            ),
            MemberResult,
            actor,
            event_id,
        )

    async def add_organization(
        self,
        org_id: str | None,
        partner: str,
        region: str | None = None,
        areas: Iterable[str] = (),
        name: str | None = None,
        contact: str | None = None,
        archive_consent: bool = False,
        *,
        note: str | None = None,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> MemberResult:
        """``org_id`` None (adapters): the product assigns an opaque id; see members.py."""
        areas = tuple(areas)
        return await self.transaction(
            "add_organization",
            lambda tx: members.add_organization(
                self.ctx, tx, org_id, partner, region, areas, name, contact, archive_consent, note
            ),
            MemberResult,
            actor,
            event_id,
        )

    async def vouch(
        self,
        author: str,
        target: str,
        kind: VouchKind = VouchKind.VOUCH,
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> VouchResult:
        """Trusted: writes ``author``'s edge as given. Only the core, seeding (demo,
        benchmarks) and tests call it; adapters use ``record_vouch``."""
        return await self.transaction(
            "vouch",
            lambda tx: members.vouch(self.ctx, tx, author, target, kind),
            VouchResult,
            actor,
            event_id,
        )

    async def record_vouch(
        self,
        by: Acting,
        target: str,
        kind: VouchKind = VouchKind.VOUCH,
        *,
        on_behalf_of: str | None = None,
        event_id: str | None = None,
    ) -> VouchResult:
        """A vouch or reference from a caller: the author is the caller's partner, or an
        organization that partner speaks for (``members.author_for``), never anyone else."""
        return await self.transaction(
            "vouch",
            lambda tx: members.record_edge(self.ctx, tx, by, target, kind, on_behalf_of),
            VouchResult,
            by.user,
            event_id,
        )

    async def reference(
        self,
        by: Acting,
        target: str,
        *,
        on_behalf_of: str | None = None,
        event_id: str | None = None,
    ) -> VouchResult:
        return await self.record_vouch(
            by, target, VouchKind.REFERENCE, on_behalf_of=on_behalf_of, event_id=event_id
        )

    async def withdraw_vouch(
        self,
        by: Acting,
        target: str,
        *,
        on_behalf_of: str | None = None,
        event_id: str | None = None,
    ) -> VouchResult:
        return await self.transaction(
            "unvouch",
            lambda tx: members.remove_edge(self.ctx, tx, by, target, on_behalf_of),
            VouchResult,
            by.user,
            event_id,
        )

    async def unvouch(
        self, author: str, target: str, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> VouchResult:
        """Trusted, like ``vouch``: for the core, seeding and tests."""
        return await self.transaction(
            "unvouch",
            lambda tx: members.unvouch(self.ctx, tx, author, target),
            VouchResult,
            actor,
            event_id,
        )

    async def vet(
        self,
        member_id: str,
        by: Acting | str | None = None,
        *,
        event_id: str | None = None,
    ) -> VetResult:
        """Vet a member as ``by`` may see it (``ownership.member``); a bare handle is the
        trusted shorthand for the system asking on that partner's behalf."""
        caller = as_caller(by)
        return await self.transaction(
            "vet",
            lambda tx: members.vet(self.ctx, tx, caller, member_id),
            VetResult,
            caller.user,
            event_id,
        )

    async def path(
        self, member_id: str, source: str | None = None, *, by: Acting | None = None
    ) -> PathResult:
        """The shortest vouching path to a member, both ends checked like ``vet``'s."""
        caller = as_caller(by)
        return await self.transaction(
            "path",
            lambda tx: members.path(self.ctx, tx, caller, member_id, source),
            PathResult,
            caller.user,
            None,
        )

    async def remove_member(
        self,
        member_id: str,
        reason_code: str,
        code_of_conduct: bool = True,
        reason: str | None = None,
        *,
        by: Acting | None = None,
        event_id: str | None = None,
    ) -> RemovalResult:
        """Remove a member (staff or the system only); ``reason`` (free text from
        staff) is stored sealed."""
        caller = as_caller(by)

        async def body(tx: Tx) -> RemovalResult:
            ownership.staff(caller, "member", member_id)
            return await removal.remove_member(
                self.ctx, tx, member_id, reason_code, code_of_conduct, reason
            )

        result = await self.transaction("remove_member", body, RemovalResult, caller.user, event_id)
        if result.purged_rows:
            await retention.vacuum(self.engine)
        return result

    # -- cases -------------------------------------------------------------------------

    async def file_request(
        self,
        partner: Acting | str,
        organization: str,
        skills: Iterable[str],
        languages: Iterable[str] = (),
        region: str | None = None,
        urgency: Urgency = Urgency.NORMAL,
        note: str | None = None,
        *,
        room: str | None = None,
        event_id: str | None = None,
    ) -> RequestResult:
        """File for one of the caller's partner's own organizations (a bare handle: the
        system filing in that partner's name, still only for its own organizations)."""
        skills, languages = tuple(skills), tuple(languages)
        caller = as_caller(partner)
        return await self.transaction(
            "file_request",
            lambda tx: cases.file_request(
                self.ctx,
                tx,
                caller,
                organization,
                skills,
                languages,
                region,
                urgency,
                note,
                room,
            ),
            RequestResult,
            caller.user,
            event_id,
        )

    async def route(
        self, request_id: str, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> RouteResult:
        """Trusted: the core routes after filing and declines; no adapter calls it."""
        return await self.transaction(
            "route",
            lambda tx: matching.route(self.ctx, tx, request_id),
            RouteResult,
            actor,
            event_id,
        )

    async def approve(
        self, proposal_id: str, by: Acting | str, *, event_id: str | None = None
    ) -> ApprovalResult:
        """``by``'s partner approves (a bare handle: the system approving in that
        partner's name); only a partner whose approval the proposal needs may."""
        caller = as_caller(by)
        return await self.transaction(
            "approve",
            lambda tx: matching.approve(self.ctx, tx, caller, proposal_id),
            ApprovalResult,
            caller.user,
            event_id,
        )

    async def withdraw_approval(
        self, proposal_id: str, by: Acting | str, *, event_id: str | None = None
    ) -> Withdrawn:
        """``by``'s partner takes back its own approval while the proposal is pending."""
        caller = as_caller(by)
        return await self.transaction(
            "withdraw_approval",
            lambda tx: matching.withdraw_approval(self.ctx, tx, caller, proposal_id),
            Withdrawn,
            caller.user,
            event_id,
        )

    async def decline(
        self,
        proposal_id: str,
        by: Acting | str,
        reason_code: str = "declined",
        reason: str | None = None,
        *,
        event_id: str | None = None,
    ) -> DeclineResult:
        """Decline a proposal; ``reason`` (free text) is stored sealed with the case. A
        bare handle is the system declining for that partner or provider."""
        caller = as_caller(by)
        return await self.transaction(
            "decline",
            lambda tx: matching.decline(self.ctx, tx, caller, proposal_id, reason_code, reason),
            DeclineResult,
            caller.user,
            event_id,
        )

    async def open_engagement(
        self, proposal_id: str, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> EngagementResult:
        """Trusted, like ``route``: an approval opens the engagement itself."""
        return await self.transaction(
            "open_engagement",
            lambda tx: matching.open_engagement(self.ctx, tx, proposal_id),
            EngagementResult,
            actor,
            event_id,
        )

    async def close(
        self,
        engagement_id: str,
        archive: bool = False,
        *,
        by: Acting | None = None,
        event_id: str | None = None,
    ) -> CloseResult:
        """The routing partner closes its engagement (staff: any) and the case is purged."""
        caller = as_caller(by)
        result = await self.transaction(
            "close",
            lambda tx: engagements.close(self.ctx, tx, caller, engagement_id, archive),
            CloseResult,
            caller.user,
            event_id,
        )
        if result.purged_rows:
            await retention.vacuum(self.engine)
        return result

    async def review(
        self,
        engagement_id: str,
        conduct: int,
        contract: int,
        communication: int,
        code_of_conduct_violation: bool = False,
        *,
        by: Acting | None = None,
        event_id: str | None = None,
    ) -> ReviewResult:
        """The routing partner reviews its engagement; staff do not review in its name."""
        caller = as_caller(by)
        return await self.transaction(
            "review",
            lambda tx: engagements.review(
                self.ctx,
                tx,
                caller,
                engagement_id,
                conduct,
                contract,
                communication,
                code_of_conduct_violation,
            ),
            ReviewResult,
            caller.user,
            event_id,
        )

    async def refer(
        self,
        request_id: str,
        to: str | None = None,
        *,
        by: Acting | None = None,
        event_id: str | None = None,
    ) -> CaseOutcome:
        """The filing partner refers its own request (staff: any)."""
        caller = as_caller(by)
        return await self.transaction(
            "refer",
            lambda tx: cases.refer(self.ctx, tx, caller, request_id, to),
            CaseOutcome,
            caller.user,
            event_id,
        )

    async def refuse(
        self,
        request_id: str,
        reason_code: str,
        *,
        by: Acting | None = None,
        event_id: str | None = None,
    ) -> CaseOutcome:
        """Staff refuse a request out of mandate; to anyone else it reads as unknown."""
        caller = as_caller(by)
        return await self.transaction(
            "refuse",
            lambda tx: cases.refuse(self.ctx, tx, caller, request_id, reason_code),
            CaseOutcome,
            caller.user,
            event_id,
        )

    async def route_open(self, *, actor: str = SYSTEM) -> BatchRouteResult:
        """Route every open request in one global assignment (see ``usecases.batch``)."""
        return await self.transaction(
            "route_open", lambda tx: batch.route_open(self.ctx, tx), BatchRouteResult, actor, None
        )

    # -- read-only views ---------------------------------------------------------------

    async def status(self, ident: str, by: Acting | str | None = None) -> RequestStatus:
        """What ``by`` may know about a request, or the request of a proposal or an
        engagement id (``None``: the staff view; a bare handle: that partner's view).
        A read, but run as a use case so a refusal is audited like any other."""
        caller = as_caller(by)

        async def body(tx: Tx) -> RequestStatus:
            return await queries.status_of(tx.conn, caller, ident)

        return await self.transaction("status", body, RequestStatus, caller.user, None)

    async def open_requests(self, partner: str) -> list[RequestStatus]:
        async with self.engine.connect() as conn:
            return await queries.open_requests(conn, partner)

    async def vetting_queue(self, limit: int = vetting.LIST_LIMIT) -> vetting.VettingQueue:
        """Applicants waiting for vetting, oldest first, with the trust rules' decision.

        Read under the use-case lock: the in-memory graph is never seen half-changed.
        """
        async with self._lock, self.engine.connect() as conn:
            await self.ctx.trust.refresh(conn)
            return await vetting.queue(self.ctx, conn, limit)

    async def purge_delivered_intake(self, *, actor: str = SYSTEM) -> IntakePurge:
        """Purge public-form submissions delivered more than ``intake_retention_days``
        ago (see coordinator/retention.py), then make the deletion final on disk."""
        days = self.config.policy.intake_retention_days

        async def body(tx: Tx) -> IntakePurge:
            cutoff = tx.now - timedelta(days=days)
            purged = await retention.purge_delivered_intake(tx.conn, cutoff)
            for reference in purged:
                tx.audit("intake.purged", reference)
            return IntakePurge(tuple(purged))

        result = await self.transaction("purge_intake", body, IntakePurge, actor, None)
        if result.references:
            await retention.vacuum(self.engine)
        return result

    async def sweep_retention(self, *, actor: str = SYSTEM) -> retention.Swept:
        """Delete what is past its window (docs/security.md, "What we keep"): sent outbox
        rows, handled event ids, referred requests' details; then make it final on disk."""
        policy = self.config.policy

        async def body(tx: Tx) -> retention.Swept:
            sent = await retention.sweep_outbox(
                tx.conn,
                tx.now - timedelta(days=policy.outbox_retention_days),
                tx.now - timedelta(days=policy.intake_retention_days + 1),
            )
            handled = await retention.sweep_inbox(
                tx.conn, tx.now - timedelta(days=policy.inbox_retention_days)
            )
            referred = await retention.purge_referred(
                tx.conn, tx.now - timedelta(days=policy.referral_retention_days)
            )
            for request_id in referred:
                tx.audit("request.referral_purged", request_id)
            if sent or handled:
                tx.audit("retention.swept", "outbox", outbox=sent, inbox=handled)
            return retention.Swept(sent, handled, tuple(referred))

        # No event id: a sweep is not a redelivered command (and the inbox it sweeps
        # must not gain a row for it).
        result = await self.transaction("sweep_retention", body, retention.Swept, actor, None)
        if result.outbox or result.inbox or result.referred:
            await retention.vacuum(self.engine)
        return result

    # Identities live in the bot's store: without the bot (the web app alone) there are
    # none to list, and confirming one is refused (partner_bots/workflow/identities.py).
    def pending_identities(self) -> dict[str, str]:
        return {}

    async def confirm_identity(
        self, user_id: str, *, actor: str, event_id: str | None = None
    ) -> IdentityConfirmation:
        raise DomainError(
            "bot_not_running", "Identities are confirmed through the running bot (dsx run)."
        )

    async def anchor_audit(
        self, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> AnchorResult:
        """Post the audit chain's head to the staff room (coordinator/usecases/anchoring.py)."""
        return await self.transaction(
            "anchor_audit", lambda tx: anchoring.post(self.ctx, tx), AnchorResult, actor, event_id
        )

    async def anchor_audit_if_due(self, period: timedelta = timedelta(days=1)) -> AnchorResult:
        """The daily anchor: posted once ``period`` has passed since the last one."""
        return await self.transaction(
            "anchor_audit",
            lambda tx: anchoring.post_if_due(self.ctx, tx, period),
            AnchorResult,
        )

    async def check_sla(self, *, actor: str = SYSTEM) -> SlaResult:
        return await self.transaction(
            "check_sla", lambda tx: cases.check_sla(self.ctx, tx), SlaResult, actor, None
        )
