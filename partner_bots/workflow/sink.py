"""The bot's EventSink: incoming messages and reactions become authorized commands, and
every answer goes out through the outbox (exactly once, in the request's thread).

* Text messages addressed to the bot are dispatched; m.notice and the bot's own events never
  get here (``partner_bots.events``).
* ✅/❌ reactions on a proposal the bot posted approve or decline it; redacting a ✅ withdraws
  the approval while the match is not final.
* A refusal is answered and audited, and changes nothing.
* The reply is written in its own transaction keyed ``<event id>:reply``: a redelivered
  event gets the stored use-case result back and its reply is not queued twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from coordinator.domain import DomainError
from coordinator.logs import get_logger
from coordinator.store.schema import inbox
from coordinator.usecases import Coordinator
from coordinator.usecases.unit import Tx
from partner_bots.commands import BotIdentity, CommandContext, Outcome, Reply, command_text
from partner_bots.commands.dispatch import run_text
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.events import Incoming, IncomingMessage, IncomingReaction, IncomingRedaction
from partner_bots.render.relations import Vote, reply_to_command, vote_of
from partner_bots.render.reply import reply_content, reply_event
from partner_bots.workflow import posted, present
from partner_bots.workflow.directory import Directory
from partner_bots.workflow.services import WorkflowServices
from partner_bots.workflow.withdraw import Withdrawn, withdraw_approval

log = get_logger(__name__)

REPLY_SUFFIX = ":reply"
COMMAND_MSGTYPES = frozenset({"m.text"})


@dataclass(frozen=True)
class ReplyQueued:
    message: str
    refused: bool


class WorkflowSink:
    def __init__(
        self,
        coordinator: Coordinator,
        directory: Directory,
        services: WorkflowServices,
        bot_user_id: str,
        *,
        wake: Callable[[], None] | None = None,
    ):
        self.coordinator = coordinator
        self.directory = directory
        self.services = services
        self.bot = BotIdentity(bot_user_id)
        self.wake = wake or (lambda: None)

    async def __call__(self, event: Incoming) -> None:
        if isinstance(event, IncomingMessage):
            await self._message(event)
        elif isinstance(event, IncomingReaction):
            await self._reaction(event)
        elif isinstance(event, IncomingRedaction):
            await self._redaction(event)

    # -- context -----------------------------------------------------------------------

    async def _context(
        self, room_id: str, sender: str, event_id: str, thread_root: str | None
    ) -> CommandContext:
        return CommandContext(
            sender=sender,
            room_id=room_id,
            services=self.services,
            is_staff_room=await self.directory.may_act_as_staff(room_id, sender),
            is_partner_member=await self.directory.may_act_for_partner(room_id, sender),
            event_id=event_id,
            thread_root=thread_root,
        )

    # -- messages ----------------------------------------------------------------------

    async def _message(self, ev: IncomingMessage) -> None:
        if ev.msgtype not in COMMAND_MSGTYPES:
            return
        text = command_text(ev.body, self.bot, ev.formatted_body)
        if text is None:
            return
        ctx = await self._context(ev.room_id, ev.sender, ev.event_id, ev.thread_root)
        reply = await run_text(text, ctx)
        self.wake()  # what the use case queued (a proposal) need not wait for the reply
        thread = ev.thread_root
        if reply.ok and reply.command == "request" and thread is None:
            thread = ev.event_id  # each request opens its own thread
        content = reply_event(reply, sender=ev.sender, event_id=ev.event_id, thread_root=thread)
        await self._queue_reply(ev.room_id, ev.sender, ev.event_id, reply, content)

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
        ctx = await self._context(ev.room_id, ev.sender, ev.event_id, thread)
        verb = "approve" if vote is Vote.APPROVE else "decline"
        reply = await run_text(f"{verb} {post.proposal}", ctx)
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
        here = next((p for p in posts if p.room == ev.room_id), None)
        thread = (here.thread_of or here.event_id) if here else None
        content = reply_content(reply, mention=[ev.sender])
        if thread:
            content = reply_to_command(content, thread, thread)
        await self._queue_reply(ev.room_id, ev.sender, ev.event_id, reply, content)

    async def _withdraw(self, ev: IncomingRedaction, proposal_id: str, partner: str) -> Reply:
        async def body(tx: Tx) -> Withdrawn:
            result = await withdraw_approval(tx, proposal_id, partner)
            await present.edit_proposal(tx, proposal_id)
            return result

        try:
            result = await self.coordinator.transaction(
                "withdraw_approval", body, Withdrawn, ev.sender, ev.event_id
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

    # -- replies -------------------------------------------------------------------------

    async def _queue_reply(
        self, room_id: str, sender: str, event_id: str, reply: Reply, content: dict[str, Any]
    ) -> None:
        async def body(tx: Tx) -> ReplyQueued:
            message = await tx.send(room_id, content)
            if reply.refused:
                code = reply.error.code if reply.error else ""
                tx.audit("command.refused", reply.command, code=code)
            return ReplyQueued(message, reply.refused)

        await self.coordinator.transaction(
            "reply", body, ReplyQueued, sender, event_id + REPLY_SUFFIX
        )
        if reply.refused:
            log.info("command.refused", command=reply.command)
        self.wake()
