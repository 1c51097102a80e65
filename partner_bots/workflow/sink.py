"""The bot's EventSink: incoming messages and reactions become authorized commands, and
every answer goes out through the outbox (exactly once, in the request's thread).

* Text messages addressed to the bot are dispatched; m.notice and the bot's own events never
  get here (``partner_bots.events``).
* ✅/❌ reactions on a proposal the bot posted approve or decline it; redacting a ✅ withdraws
  the approval while the match is not final.
* A refusal is answered and audited, and changes nothing.
* Whose words count (docs/security.md): every room the bot works in is encrypted, so a
  plaintext message or vote is never a command. It is audited, changes nothing, and its
  sender is told once per room. Encrypted commands carry the standing of the device that
  sent them (``CommandContext.device``); dispatch refuses state changes from a device that
  does not meet the device policy.
* The reply is written in its own transaction keyed ``<event id>:reply``: a redelivered
  event gets the stored use-case result back and its reply is not queued twice.
* An edited command runs once if nothing was carried out for the original yet, else it is
  answered that edits do not change a recorded command (``partner_bots.workflow.edits``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from coordinator.domain import DomainError
from coordinator.logs import get_logger
from coordinator.store import inbox as inbox_store
from coordinator.store.schema import inbox
from coordinator.usecases import Coordinator
from coordinator.usecases.acting import Acting
from coordinator.usecases.unit import Tx
from partner_bots.commands import (
    REGISTRY,
    BotIdentity,
    BotTools,
    CommandContext,
    Outcome,
    Registry,
    Reply,
    command_text,
)
from partner_bots.commands.dispatch import run_text
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.events import (
    Incoming,
    IncomingMessage,
    IncomingReaction,
    IncomingRedaction,
    Origin,
)
from partner_bots.render.relations import Vote, reply_to_command, vote_of
from partner_bots.render.reply import reply_content, reply_event
from partner_bots.standing import NO_DEVICE, SenderDevice
from partner_bots.workflow import edits, posted
from partner_bots.workflow.directory import Directory

log = get_logger(__name__)

REPLY_SUFFIX = ":reply"
COMMAND_MSGTYPES = frozenset({"m.text"})


PLAINTEXT_CODE = "unencrypted_command"
PLAINTEXT_TEXT = (
    "I did not act on that: it was sent unencrypted into this encrypted room, so I cannot "
    "tell which device sent it. Commands and ✅/❌ votes count only when they are encrypted, "
    "from a verified device. Nothing was changed. (I say this once in this room.)"
)


@dataclass(frozen=True)
class ReplyQueued:
    message: str
    refused: bool
    ok: bool = False  # carried out (an edit of it is then not run: ``workflow.edits``)


@dataclass(frozen=True)
class EditIgnored:
    reason: str


@dataclass(frozen=True)
class PlaintextIgnored:
    told: bool  # this sender got the once-per-room notice with this event


class DeviceJudge(Protocol):
    """``partner_bots.device_trust.DeviceTrust``: the standing of an event's device."""

    async def standing(self, room_id: str, user_id: str, origin: Origin | None) -> SenderDevice: ...


class WorkflowSink:
    def __init__(
        self,
        coordinator: Coordinator,
        directory: Directory,
        tools: BotTools,
        bot_user_id: str,
        *,
        registry: Registry = REGISTRY,
        wake: Callable[[], None] | None = None,
    ):
        self.coordinator = coordinator
        self.directory = directory
        self.tools = tools
        self.registry = registry
        self.bot = BotIdentity(bot_user_id)
        self.wake = wake or (lambda: None)
        # Set by the composition root to the account's DeviceTrust; without one no device
        # counts, so nothing changes state.
        self.devices: DeviceJudge | None = None
        # Set by the composition root (``edits.MatrixOriginals``); without one an edit
        # cannot be judged and is ignored.
        self.originals: edits.OriginalLookup | None = None

    async def __call__(self, event: Incoming) -> None:
        if isinstance(event, IncomingMessage):
            await self._message(event)
        elif isinstance(event, IncomingReaction):
            await self._reaction(event)
        elif isinstance(event, IncomingRedaction):
            await self._redaction(event)

    # -- context -----------------------------------------------------------------------

    async def _device(self, room_id: str, sender: str, origin: Origin | None) -> SenderDevice:
        if self.devices is None or origin is None:
            return NO_DEVICE
        return await self.devices.standing(room_id, sender, origin)

    async def _context(
        self,
        room_id: str,
        sender: str,
        event_id: str,
        thread_root: str | None,
        origin: Origin | None,
    ) -> CommandContext:
        partner = await self.directory.partner_of_room(room_id)
        return CommandContext(
            sender=sender,
            room_id=room_id,
            core=self.coordinator,
            partner=partner.handle if partner is not None else None,
            is_staff_room=await self.directory.may_act_as_staff(room_id, sender),
            is_partner_member=await self.directory.may_act_for_partner(room_id, sender),
            event_id=event_id,
            thread_root=thread_root,
            device=await self._device(room_id, sender, origin),
            tools=self.tools,
        )

    # -- messages ----------------------------------------------------------------------

    async def _message(self, ev: IncomingMessage) -> None:
        if ev.msgtype not in COMMAND_MSGTYPES:
            return
        text = command_text(ev.body, self.bot, ev.formatted_body)
        if text is None:
            return
        if ev.replaces is not None:
            await self._edit(ev, ev.replaces, text)
            return
        if not ev.encrypted:
            content = reply_event(
                _plaintext_reply(),
                sender=ev.sender,
                event_id=ev.event_id,
                thread_root=ev.thread_root,
            )
            await self._plaintext(ev.room_id, ev.sender, ev.event_id, "message", content)
            return
        async with self.coordinator.engine.connect() as conn:
            if await edits.replaced_by_edit(conn, ev.event_id):
                return  # decrypted late: its edit already ran in its place
        await self._command(ev, text, anchor=ev.event_id)

    async def _command(
        self, ev: IncomingMessage, text: str, *, anchor: str, edit_of: str | None = None
    ) -> None:
        """Run ``text`` for ``ev`` and answer it at ``anchor`` (the event the room shows)."""
        ctx = await self._context(ev.room_id, ev.sender, ev.event_id, ev.thread_root, ev.origin)
        reply = await run_text(text, ctx, self.registry)
        self.wake()  # what the use case queued (a proposal) need not wait for the reply
        thread = ev.thread_root
        if reply.ok and reply.command == "request" and thread is None:
            thread = anchor  # each request opens its own thread
        content = reply_event(reply, sender=ev.sender, event_id=anchor, thread_root=thread)
        await self._queue_reply(ev.room_id, ev.sender, ev.event_id, reply, content, edit_of)

    async def _edit(self, ev: IncomingMessage, original_id: str, text: str) -> None:
        """An edit that reads as a command: run once, answered as not run, or ignored."""
        original = None
        if self.originals is not None:
            original = await self.originals.original(ev.room_id, original_id)
        async with self.coordinator.engine.connect() as conn:
            prior = await edits.prior_of(conn, original_id)
        verdict = edits.verdict(ev.sender, original, prior)
        if verdict is edits.Verdict.IGNORED or original is None:
            await self._edit_ignored(ev, original_id)
            return
        # Everything about an edit sits in the original's thread (or starts one on it).
        thread = original.thread_root or original_id
        placed = dataclasses.replace(ev, thread_root=thread)
        if not ev.encrypted:
            content = reply_event(
                _plaintext_reply(), sender=ev.sender, event_id=original_id, thread_root=thread
            )
            await self._plaintext(ev.room_id, ev.sender, ev.event_id, "edit", content)
            return
        if verdict is edits.Verdict.RUN:
            await self._command(placed, text, anchor=original_id, edit_of=original_id)
            return
        reply = edits.not_run_reply(text.split(maxsplit=1)[0].lower() if text.split() else "")
        content = reply_event(reply, sender=ev.sender, event_id=original_id, thread_root=thread)
        await self._queue_reply(ev.room_id, ev.sender, ev.event_id, reply, content)
        log.info("command.edit_not_run")

    async def _edit_ignored(self, ev: IncomingMessage, original_id: str) -> None:
        """Someone else's edit, an edit of an edit, or of an event the bot cannot see: not
        an edit the room shows, so no answer; audited, and nothing changes."""

        async def body(tx: Tx) -> EditIgnored:
            tx.audit("command.edit_ignored", ev.room_id)
            return EditIgnored("not_an_edit")

        await self.coordinator.transaction(
            "edit_ignored", body, EditIgnored, ev.sender, ev.event_id + REPLY_SUFFIX
        )
        log.info("command.edit_ignored")

    # -- reactions -----------------------------------------------------------------------

    async def _reaction(self, ev: IncomingReaction) -> None:
        vote = vote_of(ev.key)
        if vote is None:
            return
        async with self.coordinator.engine.connect() as conn:
            post = await posted.proposal_at(conn, ev.room_id, ev.reacts_to)
        if post is None:
            return
        # The proposal sits in the request's thread, or starts it (another partner's copy).
        thread = post.thread_of or ev.reacts_to
        if not ev.encrypted:
            content = reply_to_command(
                reply_content(_plaintext_reply(), mention=[ev.sender]), ev.reacts_to, thread
            )
            await self._plaintext(ev.room_id, ev.sender, ev.event_id, "reaction", content)
            return
        ctx = await self._context(ev.room_id, ev.sender, ev.event_id, thread, ev.origin)
        verb = "approve" if vote is Vote.APPROVE else "decline"
        reply = await run_text(f"{verb} {post.proposal}", ctx, self.registry)
        self.wake()
        content = reply_to_command(reply_content(reply, mention=[ev.sender]), ev.reacts_to, thread)
        await self._queue_reply(ev.room_id, ev.sender, ev.event_id, reply, content)

    async def _redaction(self, ev: IncomingRedaction) -> None:
        async with self.coordinator.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(inbox.c.use_case, inbox.c.result).where(
                        inbox.c.event_id == ev.redacts
                    )
                )
            ).first()
        if row is None or row.use_case != "approve" or not isinstance(row.result, dict):
            return
        proposal_id = str(row.result.get("proposal"))
        partner = await self.directory.partner_of_room(ev.room_id)
        if partner is None:
            return
        if not await self.directory.may_act_for_partner(ev.room_id, ev.sender):
            reply = Reply.failure(
                "approve",
                CommandError(
                    ErrorCode.NOT_ALLOWED,
                    "Only listed members of this partner room may withdraw an approval.",
                ),
            )
        else:
            reply = await self._withdraw(ev, proposal_id, partner.handle)
        async with self.coordinator.engine.connect() as conn:
            posts = await posted.proposal_posts_of(conn, proposal_id)
        here = next((p for p in posts if p.room_id == ev.room_id), None)
        thread = (here.thread_of or here.event_id) if here else None
        content = reply_content(reply, mention=[ev.sender])
        if thread:
            content = reply_to_command(content, thread, thread)
        await self._queue_reply(ev.room_id, ev.sender, ev.event_id, reply, content)

    async def _withdraw(self, ev: IncomingRedaction, proposal_id: str, partner: str) -> Reply:
        """The core decides whether this room's partner may withdraw (its own approval of a
        proposal that needs it); anything else reads as a proposal that does not exist."""
        try:
            result = await self.coordinator.withdraw_approval(
                proposal_id, Acting(ev.sender, partner), room=ev.room_id, event_id=ev.event_id
            )
        except DomainError as error:
            return Reply.failure("approve", CommandError(error.code, error.message))
        return Reply.success(
            "approve",
            Outcome(
                f"Approval of {result.proposal} withdrawn.",
                (f"Waiting for: {', '.join(result.waiting_for)}",),
            ),
        )

    async def _plaintext(
        self, room_id: str, sender: str, event_id: str, kind: str, content: dict[str, Any]
    ) -> None:
        """Audit a plaintext command or vote; tell its sender once per room (the inbox keeps
        that they were told), so a script sending plaintext gets no stream of answers."""
        told_key = f"plaintext-notice:{room_id}:{sender}"

        async def body(tx: Tx) -> PlaintextIgnored:
            told_before, _ = await inbox_store.lookup(tx.conn, told_key)
            if not told_before:
                await inbox_store.claim(tx.conn, told_key, "plaintext_notice", tx.now)
                await tx.send(room_id, content)
            tx.audit("command.unencrypted", room_id, kind=kind, told=not told_before)
            return PlaintextIgnored(not told_before)

        result = await self.coordinator.transaction(
            "plaintext_command", body, PlaintextIgnored, sender, event_id + REPLY_SUFFIX
        )
        log.info("command.unencrypted", kind=kind, told=result.told)
        if result.told:
            self.wake()

    # -- replies -------------------------------------------------------------------------

    async def _queue_reply(
        self,
        room_id: str,
        sender: str,
        event_id: str,
        reply: Reply,
        content: dict[str, Any],
        edit_of: str | None = None,
    ) -> None:
        async def body(tx: Tx) -> ReplyQueued:
            message = await tx.send(room_id, content)
            if reply.refused:
                code = reply.error.code if reply.error else ""
                tx.audit("command.refused", reply.command, code=code)
            if edit_of is not None:
                await edits.record_run(tx.conn, edit_of, reply.ok, tx.now)
            return ReplyQueued(message, reply.refused, reply.ok)

        await self.coordinator.transaction(
            "reply", body, ReplyQueued, sender, event_id + REPLY_SUFFIX
        )
        if reply.refused:
            log.info("command.refused", command=reply.command)
        self.wake()


def _plaintext_reply() -> Reply:
    return Reply.failure("unencrypted", CommandError(PLAINTEXT_CODE, PLAINTEXT_TEXT))
