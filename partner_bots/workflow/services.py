"""The commands' ``Services`` on top of the coordinator's use cases.

Each call is one transaction keyed by the Matrix event id, so a redelivered event changes
nothing and gets the same answer. Where one command needs several use cases (file and
route), they run in that one transaction. Domain errors pass through untouched: the
dispatcher turns their ``code`` and ``message`` into the reply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from coordinator import retention
from coordinator.domain import DomainError, Urgency, VouchKind
from coordinator.usecases import Coordinator, cases, matching, ownership, removal, rows, vetting
from coordinator.usecases.acting import Acting
from coordinator.usecases.queries import RequestStatus
from coordinator.usecases.results import ApprovalResult, DeclineResult, RemovalResult
from coordinator.usecases.unit import Tx
from coordinator.usecases.vetting import QueueEntry
from partner_bots.commands import catalog as c
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.workflow import posted, present
from partner_bots.workflow.directory import Directory, PartnerRoom
from partner_bots.workflow.identities import Identities, confirm_identity
from partner_bots.workflow.login import PLACEHOLDER as LINK_PLACEHOLDER
from partner_bots.workflow.login import SUMMARY as LINK_SUMMARY
from partner_bots.workflow.login import MintLink
from partner_bots.workflow.names import OrganizationNames

R = TypeVar("R")


@dataclass(frozen=True)
class Filed:
    """A request filed and routed in one transaction."""

    request: str
    state: str
    referral_to: str | None
    proposal: str | None
    provider: str | None
    path: tuple[str, ...]
    approvals_needed: tuple[str, ...]


def _path(path: tuple[str, ...] | list[str]) -> str:
    return " → ".join(path) if path else "none"


class WorkflowServices:
    def __init__(
        self, coordinator: Coordinator, directory: Directory, login: MintLink | None = None
    ):
        self.coordinator = coordinator
        self.directory = directory
        self.login = login
        # Every bot account's identity pins; set by the composition root once bots exist.
        self.identities: Identities | None = None
        # Finds the organization a partner names (workflow/names.py); None: ids only.
        self.names: OrganizationNames | None = None

    # -- helpers -----------------------------------------------------------------------

    async def _partner(self, ctx: CommandContext) -> PartnerRoom:
        partner = await self.directory.partner_of_room(ctx.room_id)
        if partner is None:
            raise DomainError(
                "not_a_partner_room", "This command works only in a registered partner room."
            )
        return partner

    async def _org(self, partner: str | None, text: str) -> str:
        """The id of the organization ``partner`` names by ``text`` (its name or its id)."""
        if self.names is None or partner is None:
            return text
        return await self.names.resolve(partner, text)

    @staticmethod
    def _acting(ctx: CommandContext, partner: PartnerRoom) -> Acting:
        """The caller as the core sees it: this room's partner, never one named in input."""
        return Acting(ctx.sender, partner.handle, staff=False)

    async def _caller(self, ctx: CommandContext) -> Acting:
        """Staff in the staff room, else this room's partner. What the caller may touch
        is the core's decision (coordinator/usecases/ownership.py), not this adapter's."""
        if ctx.is_staff_room:
            return Acting(ctx.sender, None, staff=True)
        return self._acting(ctx, await self._partner(ctx))

    async def _threaded(
        self,
        name: str,
        ctx: CommandContext,
        body: Callable[[Tx], Awaitable[R]],
        result_type: type[R],
        room: str,
        root: Callable[[Tx], Awaitable[str | None]],
        request_of: Callable[[Tx, R], Awaitable[str | None]],
    ) -> R:
        """Run ``body`` as one use case; what it posts in ``room`` joins the request's thread,
        and so does what it posts about the request in other partners' rooms (the other
        approving partner's copy of a proposal, the routing partner's engagement notice)."""

        async def wrapped(tx: Tx) -> R:
            before = await posted.last_seq(tx.conn)
            result = await body(tx)
            await present.render_new_proposals(tx, before)
            thread = await root(tx)
            if thread:
                await posted.adopt_into_thread(tx.conn, before, room, thread)
            request = await request_of(tx, result)
            if request:
                skip = frozenset({room, self.coordinator.ctx.staff_room})
                await posted.adopt_elsewhere(tx.conn, before, request, skip)
            return result

        # One transaction for the whole command: the coordinator's unit of work.
        return await self.coordinator.transaction(
            name, wrapped, result_type, ctx.sender, ctx.event_id
        )

    def _thread_of_proposal(
        self, ctx: CommandContext, room: str, proposal_id: str
    ) -> Callable[[Tx], Awaitable[str | None]]:
        async def root(tx: Tx) -> str | None:
            if ctx.thread_root:
                return ctx.thread_root
            for post in await posted.proposal_posts_of(tx.conn, proposal_id):
                if post.room == room:
                    return post.thread_root
            return None

        return root

    @staticmethod
    def _request_of_proposal(proposal_id: str) -> Callable[[Tx, object], Awaitable[str | None]]:
        async def request(tx: Tx, _result: object) -> str | None:
            return (await rows.proposal(tx.conn, proposal_id)).request

        return request

    # -- cases -------------------------------------------------------------------------

    async def file_request(self, ctx: CommandContext, cmd: c.RequestCommand) -> Outcome:
        partner = await self._partner(ctx)
        core = self.coordinator.ctx
        # The request lives in the room it was filed in: its reply, proposal and the rest.
        room = ctx.room_id

        organization = await self._org(partner.handle, cmd.org)

        async def body(tx: Tx) -> Filed:
            filed = await cases.file_request(
                core,
                tx,
                self._acting(ctx, partner),
                organization,
                cmd.skills,
                cmd.langs,
                cmd.region,
                Urgency(int(cmd.urgency)),
                cmd.note,
                room=room,
            )
            # Every command from the room has an event id; a context without one (no
            # Matrix event) has no thread to record.
            root = ctx.thread_root or ctx.event_id
            if root is not None:
                await posted.set_request_thread(tx.conn, filed.request, room, root)
            if filed.referral_to is not None or filed.state != "open":
                return Filed(filed.request, filed.state, filed.referral_to, None, None, (), ())
            routed = await matching.route(core, tx, filed.request)
            return Filed(
                filed.request,
                routed.state,
                None,
                routed.proposal,
                routed.provider,
                routed.path,
                routed.approvals_needed,
            )

        async def root(_tx: Tx) -> str | None:
            return ctx.thread_root or ctx.event_id

        async def request_of(_tx: Tx, filed: Filed) -> str | None:
            return filed.request

        result = await self._threaded("file_request", ctx, body, Filed, room, root, request_of)
        if result.proposal:
            details = (
                f"Proposal {result.proposal}: {result.provider}",
                f"Vouching path: {_path(result.path)}",
                f"Approvals needed: {', '.join(result.approvals_needed)}",
            )
            return Outcome(f"Request {result.request} filed; a proposal follows.", details)
        if result.referral_to:
            return Outcome(
                f"Request {result.request} filed; it is outside the U.S.",
                (f"Refer it to {result.referral_to} with `!dsx refer {result.request}`.",),
            )
        return Outcome(
            f"Request {result.request} filed ({result.state}).",
            ("No provider is available right now; staff were told.",),
        )

    async def _answer_proposal(
        self,
        ctx: CommandContext,
        name: str,
        proposal_id: str,
        decide: Callable[[Tx, Acting], Awaitable[R]],
        result_type: type[R],
    ) -> R:
        """A partner's answer to a proposal (``decide`` gets the caller): the use case and
        the edit of every posted copy, one transaction, in the request's thread."""
        partner = await self._partner(ctx)

        async def body(tx: Tx) -> R:
            result = await decide(tx, self._acting(ctx, partner))
            await present.edit_proposal(tx, proposal_id)
            return result

        room = ctx.room_id  # the answer stays where it was given
        return await self._threaded(
            name,
            ctx,
            body,
            result_type,
            room,
            self._thread_of_proposal(ctx, room, proposal_id),
            self._request_of_proposal(proposal_id),
        )

    async def approve(self, ctx: CommandContext, cmd: c.ApproveCommand) -> Outcome:
        core = self.coordinator.ctx
        result = await self._answer_proposal(
            ctx,
            "approve",
            cmd.proposal,
            lambda tx, by: matching.approve(core, tx, by, cmd.proposal),
            ApprovalResult,
        )
        if result.engagement:
            return Outcome(
                f"Proposal {result.proposal} approved; engagement {result.engagement} is open.",
                ("An encrypted engagement room is being created with the provider.",),
            )
        return Outcome(
            f"Approval of {result.proposal} recorded.",
            (f"Still waiting for: {', '.join(result.waiting_for)}",),
        )

    async def decline(self, ctx: CommandContext, cmd: c.DeclineCommand) -> Outcome:
        core = self.coordinator.ctx
        # The free-text reason is kept sealed with the case; the audit has a code only.
        result = await self._answer_proposal(
            ctx,
            "decline",
            cmd.proposal,
            lambda tx, by: matching.decline(core, tx, by, cmd.proposal, "declined", cmd.reason),
            DeclineResult,
        )
        if result.next_proposal:
            return Outcome(
                f"Proposal {result.proposal} declined; next candidate: {result.next_provider}.",
                (f"New proposal {result.next_proposal} follows.",),
            )
        return Outcome(
            f"Proposal {result.proposal} declined; no candidate is left, staff were told."
        )

    async def status(self, ctx: CommandContext, cmd: c.StatusCommand) -> Outcome:
        by = await self._caller(ctx)
        if cmd.id is None:
            if by.partner is None:
                return Outcome("The staff view lists requests on the dashboard.")
            found = await self.coordinator.open_requests(by.partner)
            if not found:
                return Outcome("You have no open requests.")
            return Outcome(f"{len(found)} open request(s).", tuple(_status_line(s) for s in found))
        return Outcome(_status_line(await self.coordinator.status(cmd.id, by)))

    async def refer(self, ctx: CommandContext, cmd: c.ReferCommand) -> Outcome:
        result = await self.coordinator.refer(
            cmd.request, cmd.to, by=await self._caller(ctx), event_id=ctx.event_id
        )
        return Outcome(f"Request {result.request} referred to {result.to} ({result.state}).")

    async def refuse(self, ctx: CommandContext, cmd: c.RefuseCommand) -> Outcome:
        result = await self.coordinator.refuse(
            cmd.request, cmd.reason, by=await self._caller(ctx), event_id=ctx.event_id
        )
        return Outcome(
            f"Request {result.request} refused ({result.code}); only the code and date remain."
        )

    # -- engagements -------------------------------------------------------------------

    async def close(self, ctx: CommandContext, cmd: c.CloseCommand) -> Outcome:
        result = await self.coordinator.close(
            cmd.engagement, cmd.archive, by=await self._caller(ctx), event_id=ctx.event_id
        )
        archive = "an offline archive was kept" if result.archived else "no archive was kept"
        return Outcome(
            f"Engagement {result.engagement} closed; the organization's data was purged.",
            (f"{result.purged_rows} record(s) deleted; {archive}.",),
        )

    async def review(self, ctx: CommandContext, cmd: c.ReviewCommand) -> Outcome:
        result = await self.coordinator.review(
            cmd.engagement,
            cmd.conduct,
            cmd.contract,
            cmd.communication,
            code_of_conduct_violation=cmd.conduct == 1,
            by=await self._caller(ctx),
            event_id=ctx.event_id,
        )
        details = []
        if result.notation:
            details.append("A satisfactory notation was added to the provider's account.")
        if result.promoted:
            details.append("The provider leaves the probation pod.")
        if result.removed:
            details.append("Code-of-conduct violation: the provider was removed.")
        verdict = "satisfactory" if result.satisfactory else "not satisfactory"
        return Outcome(f"Review of {result.engagement} recorded ({verdict}).", tuple(details))

    # -- membership --------------------------------------------------------------------

    async def add_org(self, ctx: CommandContext, cmd: c.OrgAddCommand) -> Outcome:
        """The name, contact and note are sealed at once; the product assigns the id."""
        partner = await self._partner(ctx)
        known = await self._org(partner.handle, cmd.org)
        if known != cmd.org:
            raise DomainError(
                "member_exists", f"Your partner already registered that organization: {known}."
            )
        result = await self.coordinator.add_organization(
            None,
            partner.handle,
            cmd.region,
            cmd.areas,
            name=cmd.org,
            contact=cmd.contact,
            note=cmd.note,
            actor=ctx.sender,
            event_id=ctx.event_id,
        )
        return Outcome(
            f"Organization {result.member} added ({result.status}).",
            (
                "Name it by its name or by this id; only its id is stored in the clear.",
                "It needs two references from other organizations, or your vouch, then a vet.",
            ),
        )

    async def ref_org(self, ctx: CommandContext, cmd: c.OrgRefCommand) -> Outcome:
        partner = await self._partner(ctx)
        result = await self.coordinator.reference(
            self._acting(ctx, partner),
            await self._org(partner.handle, cmd.org),
            on_behalf_of=await self._org(partner.handle, cmd.from_),
            event_id=ctx.event_id,
        )
        return Outcome(f"Reference for {result.target} from {result.author} recorded.")

    async def add_provider(self, ctx: CommandContext, cmd: c.ProviderAddCommand) -> Outcome:
        await self._partner(ctx)
        result = await self.coordinator.add_provider(
            cmd.user,
            cmd.skills,
            cmd.langs,
            cmd.regions,
            cmd.capacity,
            actor=ctx.sender,
            event_id=ctx.event_id,
        )
        return Outcome(
            f"Provider {result.member} added ({result.status}).",
            ("They join once vouched for and vetted: `!dsx vouch`, then `!dsx vet`.",),
            mentions=(),
        )

    async def vouch(self, ctx: CommandContext, cmd: c.VouchCommand) -> Outcome:
        partner = await self._partner(ctx)
        result = await self.coordinator.record_vouch(
            self._acting(ctx, partner),
            await self._org(partner.handle, cmd.member),
            VouchKind(cmd.as_),
            event_id=ctx.event_id,
        )
        return Outcome(f"{result.author} {result.kind}: {result.target} recorded.")

    async def unvouch(self, ctx: CommandContext, cmd: c.UnvouchCommand) -> Outcome:
        partner = await self._partner(ctx)
        result = await self.coordinator.withdraw_vouch(
            self._acting(ctx, partner),
            await self._org(partner.handle, cmd.member),
            event_id=ctx.event_id,
        )
        return Outcome(f"{result.author} no longer vouches for {result.target}.")

    async def vet(self, ctx: CommandContext, cmd: c.VetCommand) -> Outcome:
        by = await self._caller(ctx)
        result = await self.coordinator.vet(
            await self._org(by.partner, cmd.member), by, event_id=ctx.event_id
        )
        verdict = "accepted" if result.eligible else "not accepted"
        pod = " (probation pod)" if result.probation else ""
        details = [f"Vouching path: {_path(result.path)}", *result.messages]
        return Outcome(f"{result.member} is {verdict}: {result.status}{pod}.", tuple(details))

    async def path(self, ctx: CommandContext, cmd: c.PathCommand) -> Outcome:
        by = await self._caller(ctx)
        source = None if cmd.from_ is None else await self._org(by.partner, cmd.from_)
        found = await self.coordinator.path(await self._org(by.partner, cmd.member), source, by=by)
        if not found.path:
            return Outcome(f"No vouching path from {found.source} to {found.member}.")
        return Outcome(f"Vouching path: {_path(found.path)}")

    async def remove_member(
        self,
        member: str,
        reason_code: str = "staff_removal",
        reason: str | None = None,
        *,
        by: Acting,
        event_id: str | None = None,
    ) -> RemovalResult:
        """The removal use case plus what the rooms must show of it (cancelled proposals
        edited, next candidates posted in their threads); the dashboard uses it too.
        Staff only, checked in the core like every other ownership rule."""
        core = self.coordinator.ctx

        async def body(tx: Tx) -> RemovalResult:
            ownership.staff(by, "member", member)
            before = await posted.last_seq(tx.conn)
            result = await removal.remove_member(core, tx, member, reason_code, True, reason)
            await present.render_new_proposals(tx, before)
            for proposal_id in result.cancelled_proposals:
                await present.edit_proposal(tx, proposal_id)
            await posted.thread_new_proposals(tx.conn, before, frozenset({core.staff_room}))
            return result

        result = await self.coordinator.transaction(
            "remove_member", body, RemovalResult, by.user, event_id
        )
        if result.purged_rows:
            await retention.vacuum(self.coordinator.engine)
        return result

    async def remove(self, ctx: CommandContext, cmd: c.RemoveCommand) -> Outcome:
        """The reason staff typed is stored sealed; the report answers their command, so the
        reason stays readable in the (encrypted) staff room and nowhere in plain text."""
        core = self.coordinator.ctx
        result = await self.remove_member(
            cmd.member, reason=cmd.reason, by=await self._caller(ctx), event_id=ctx.event_id
        )
        details = [
            f"Proposals cancelled: {', '.join(result.cancelled_proposals) or 'none'}",
            f"Requests re-routed: {', '.join(result.rerouted_requests) or 'none'}",
            f"Needing a new vouch: {', '.join(result.needs_revouching) or 'none'}",
        ]
        if result.cancelled_requests or result.closed_engagements:
            details += [
                f"Requests cancelled: {len(result.cancelled_requests)} "
                f"({', '.join(result.cancelled_requests) or 'none'})",
                f"Engagements closed: {len(result.closed_engagements)} "
                f"({', '.join(result.closed_engagements) or 'none'})",
                f"Sealed records purged: {result.purged_rows}",
            ]
        if core.sealer is not None:
            details.append("The reason is kept sealed; the audit log records a code only.")
        else:
            details.append("No sealing key is configured: the reason was not stored.")
        return Outcome(f"{result.member} was removed from the network.", tuple(details))

    async def add_partner(self, ctx: CommandContext, cmd: c.PartnerAddCommand) -> Outcome:
        if not cmd.room.startswith("!"):
            raise DomainError("room_id_needed", "Give the room id (!…), not an alias.")
        result = await self.coordinator.register_partner(
            cmd.handle, (cmd.room,), (), actor=ctx.sender, event_id=ctx.event_id
        )
        return Outcome(
            f"Partner {result.member} registered; invite me to its room and I will join."
        )

    async def vetting_queue(self, ctx: CommandContext, cmd: c.QueueCommand) -> Outcome:
        found = await self.coordinator.vetting_queue()
        if not found.total:
            return Outcome("Nobody is waiting for vetting.")
        now = self.coordinator.ctx.clock()
        lines = [_queue_line(e, now) for e in found.entries]
        if found.total > len(found.entries):
            lines.append(f"… and {found.total - len(found.entries)} more on /dashboard/vetting.")
        ready = sum(1 for e in found.entries if e.eligible)
        return Outcome(
            f"{found.total} waiting for vetting, oldest first; {ready} meet the trust rules.",
            tuple(lines),
        )

    async def audit_anchor(self, ctx: CommandContext, cmd: c.AuditAnchorCommand) -> Outcome:
        """The anchor itself is a staff notice (no names, not even the asker's); this reply
        only says it went out."""
        result = await self.coordinator.anchor_audit(actor=ctx.sender, event_id=ctx.event_id)
        return Outcome(
            f"Audit anchor posted: {result.count} entries.",
            ("Keep that notice: `dsx audit verify --anchor` checks the log against it.",),
        )

    async def login_link(self, ctx: CommandContext, cmd: c.LoginCommand) -> Outcome:
        if self.login is None:
            raise DomainError("web_disabled", "The dashboard is not running.")
        # The link itself is minted at send time (workflow/login.py): never stored.
        # The link goes to the caller's direct room, never into the shared staff room.
        return Outcome(LINK_SUMMARY, (LINK_PLACEHOLDER,))

    async def confirm_identity(self, ctx: CommandContext, cmd: c.IdentityConfirmCommand) -> Outcome:
        result = await confirm_identity(
            self.coordinator, self.identities, cmd.user, actor=ctx.sender, event_id=ctx.event_id
        )
        return Outcome(
            f"The new identity of {result.user} is confirmed: I share encrypted messages with "
            "their verified devices and act on their commands again.",
            mentions=(result.user,),
        )


def _age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


def _queue_line(e: QueueEntry, now: datetime) -> str:
    """One applicant: who, how long, the decision, the paths (handles only)."""
    return (
        f"{e.member} ({e.kind}, waiting {_age(now - e.waiting_since)}): "
        f"{vetting.decision_text(e)} Paths: {vetting.format_paths(e.paths)}; "
        f"vouches {e.vouches}, references {e.references}."
    )


def _status_line(s: RequestStatus) -> str:
    parts = [f"{s.request}: {s.state}", f"urgency {s.urgency}", f"skills {', '.join(s.skills)}"]
    if s.organization:
        parts.append(f"for {s.organization}")
    if s.proposal:
        approvals = f"{len(s.approvals)}/{len(s.approvals_needed)} approvals"
        parts.append(f"proposal {s.proposal} ({s.provider}, {approvals})")
    if s.engagement:
        parts.append(f"engagement {s.engagement}")
    return "; ".join(parts)
