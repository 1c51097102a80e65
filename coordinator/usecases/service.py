"""The coordinator's public API: every use case as one awaitable method.

Each call is one transaction (see ``unit.run``). ``actor`` is who asked (a Matrix
user id or "system"); ``event_id`` is the Matrix event that caused the call, which
makes a redelivered event a no-op that returns the first result. Use cases within one
process run one at a time (PostgreSQL serialises their commits on the audit chain
anyway), which keeps the in-memory trust graph consistent with the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator import retention
from coordinator.config import Config
from coordinator.domain import Tier, Urgency, VouchKind
from coordinator.sealing import PublicSealer
from coordinator.store import Inbox, Outbox, create_engine, migrate
from coordinator.store.clock import utcnow
from coordinator.usecases import (
    batch,
    cases,
    engagements,
    matching,
    members,
    messages,
    queries,
    removal,
    unit,
    vetting,
)
from coordinator.usecases.batch import BatchRouteResult
from coordinator.usecases.context import Context
from coordinator.usecases.queries import RequestStatus
from coordinator.usecases.results import (
    ApprovalResult,
    CaseOutcome,
    CloseResult,
    DeclineResult,
    EngagementResult,
    IntakePurge,
    MemberResult,
    RemovalResult,
    RequestResult,
    ReviewResult,
    RouteResult,
    SlaResult,
    VetResult,
    VouchResult,
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
    ):
        self.engine = engine
        self.config = config
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
        """Migrate, connect, rebuild the trust graph and register configured partners."""
        url = url or config.database_url
        await migrate(url)
        coordinator = cls(create_engine(url), config, sealer, clock)
        await coordinator.start()
        return coordinator

    async def start(self) -> None:
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

            result = await unit.run(
                self.engine,
                name=name,
                actor=actor,
                now=self.ctx.clock(),
                event_id=event_id,
                result_type=result_type,
                body=wrapped,
                on_rollback=rollback,
            )
            trust.dirty = False
            return result

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
        org_id: str,
        partner: str,
        region: str | None = None,
        areas: Iterable[str] = (),
        name: str | None = None,
        contact: str | None = None,
        archive_consent: bool = False,
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> MemberResult:
        areas = tuple(areas)
        return await self.transaction(
            "add_organization",
            lambda tx: members.add_organization(
                self.ctx, tx, org_id, partner, region, areas, name, contact, archive_consent
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
        return await self.transaction(
            "vouch",
            lambda tx: members.vouch(self.ctx, tx, author, target, kind),
            VouchResult,
            actor,
            event_id,
        )

    async def reference(
        self, author: str, target: str, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> VouchResult:
        return await self.vouch(author, target, VouchKind.REFERENCE, actor=actor, event_id=event_id)

    async def unvouch(
        self, author: str, target: str, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> VouchResult:
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
        asking: str | None = None,
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> VetResult:
        return await self.transaction(
            "vet",
            lambda tx: members.vet(self.ctx, tx, member_id, asking),
            VetResult,
            actor,
            event_id,
        )

    async def remove_member(
        self,
        member_id: str,
        reason_code: str,
        code_of_conduct: bool = True,
        reason: str | None = None,
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> RemovalResult:
        """Remove a member; ``reason`` (free text from staff) is stored sealed."""
        result = await self.transaction(
            "remove_member",
            lambda tx: removal.remove_member(
                self.ctx, tx, member_id, reason_code, code_of_conduct, reason
            ),
            RemovalResult,
            actor,
            event_id,
        )
        if result.purged_rows:
            await retention.vacuum(self.engine)
        return result

    # -- cases -------------------------------------------------------------------------

    async def file_request(
        self,
        partner: str,
        organization: str,
        skills: Iterable[str],
        languages: Iterable[str] = (),
        region: str | None = None,
        urgency: Urgency = Urgency.NORMAL,
        note: str | None = None,
        *,
        room: str | None = None,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> RequestResult:
        skills, languages = tuple(skills), tuple(languages)
        return await self.transaction(
            "file_request",
            lambda tx: cases.file_request(
                self.ctx, tx, partner, organization, skills, languages, region, urgency, note, room
            ),
            RequestResult,
            actor,
            event_id,
        )

    async def route(
        self, request_id: str, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> RouteResult:
        return await self.transaction(
            "route",
            lambda tx: matching.route(self.ctx, tx, request_id),
            RouteResult,
            actor,
            event_id,
        )

    async def approve(
        self, proposal_id: str, partner: str, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> ApprovalResult:
        return await self.transaction(
            "approve",
            lambda tx: matching.approve(self.ctx, tx, proposal_id, partner),
            ApprovalResult,
            actor,
            event_id,
        )

    async def decline(
        self,
        proposal_id: str,
        by: str,
        reason_code: str = "declined",
        reason: str | None = None,
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> DeclineResult:
        """Decline a proposal; ``reason`` (free text) is stored sealed with the case."""
        return await self.transaction(
            "decline",
            lambda tx: matching.decline(self.ctx, tx, proposal_id, by, reason_code, reason),
            DeclineResult,
            actor,
            event_id,
        )

    async def open_engagement(
        self, proposal_id: str, *, actor: str = SYSTEM, event_id: str | None = None
    ) -> EngagementResult:
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
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> CloseResult:
        result = await self.transaction(
            "close",
            lambda tx: engagements.close(self.ctx, tx, engagement_id, archive),
            CloseResult,
            actor,
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
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> ReviewResult:
        return await self.transaction(
            "review",
            lambda tx: engagements.review(
                self.ctx,
                tx,
                engagement_id,
                conduct,
                contract,
                communication,
                code_of_conduct_violation,
            ),
            ReviewResult,
            actor,
            event_id,
        )

    async def refer(
        self,
        request_id: str,
        to: str | None = None,
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> CaseOutcome:
        return await self.transaction(
            "refer",
            lambda tx: cases.refer(self.ctx, tx, request_id, to),
            CaseOutcome,
            actor,
            event_id,
        )

    async def refuse(
        self,
        request_id: str,
        reason_code: str,
        *,
        actor: str = SYSTEM,
        event_id: str | None = None,
    ) -> CaseOutcome:
        return await self.transaction(
            "refuse",
            lambda tx: cases.refuse(self.ctx, tx, request_id, reason_code),
            CaseOutcome,
            actor,
            event_id,
        )

    async def route_open(self, *, actor: str = SYSTEM) -> BatchRouteResult:
        """Route every open request in one global assignment (see ``usecases.batch``)."""
        return await self.transaction(
            "route_open", lambda tx: batch.route_open(self.ctx, tx), BatchRouteResult, actor, None
        )

    # -- read-only views ---------------------------------------------------------------

    async def status(self, request_id: str, partner: str | None = None) -> RequestStatus:
        """What ``partner`` may know about a request (``None``: the staff view)."""
        async with self.engine.connect() as conn:
            return await queries.request_status(conn, request_id, partner)

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

    async def check_sla(self, *, actor: str = SYSTEM) -> SlaResult:
        return await self.transaction(
            "check_sla", lambda tx: cases.check_sla(self.ctx, tx), SlaResult, actor, None
        )
