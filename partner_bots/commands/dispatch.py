"""One message in, one reply out: address check, authorization, parsing, the use case.

Every failure becomes a Reply with ok=False and a code; nothing escapes as an exception, and
nothing is logged about the message's content.
"""

from __future__ import annotations

import dataclasses
import logging

from partner_bots.commands.address import BotIdentity, command_text
from partner_bots.commands.context import NOT_A_PARTNER_ROOM, CommandContext, Reply
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.commands.parse import bind, resolve
from partner_bots.commands.registry import CommandSpec, Registry
from partner_bots.commands.spec import Audience
from partner_bots.standing import REFUSALS

log = logging.getLogger(__name__)

UNKNOWN = "unknown"  # the reply's command name when no command could be identified
_MAX_ERROR_TEXT = 500


def authorize(spec: CommandSpec, ctx: CommandContext) -> CommandError | None:
    """Staff commands only in the staff room; partner commands only for authorized senders
    in a partner room (staff do not speak in a partner's name); a command that changes
    state only from a device that meets the device policy.

    Who may use a command is checked first, so a non-member learns nothing about devices.
    """
    if spec.audience is Audience.STAFF and not ctx.is_staff_room:
        return CommandError(
            ErrorCode.STAFF_ONLY, f"“{spec.name}” can only be used in the staff room.", None
        )
    if spec.audience is Audience.PARTNER and ctx.is_staff_room:
        return CommandError(
            NOT_A_PARTNER_ROOM,
            f"“{spec.name}” speaks in a partner's name: use it in your partner's room.",
            None,
        )
    if spec.audience in (Audience.PARTNER, Audience.CASEWORK) and not (
        ctx.is_partner_member or ctx.is_staff_room
    ):
        return CommandError(
            ErrorCode.NOT_ALLOWED,
            "Only listed members of this partner room may use this command.",
            None,
        )
    if spec.changes_state and not ctx.device.counts:
        return CommandError(ErrorCode.UNTRUSTED_DEVICE, REFUSALS[ctx.device.standing], None)
    return None


def _domain_error(error: Exception) -> CommandError | None:
    """A use-case refusal (duck-typed: string ``code`` and ``message``), else None."""
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if isinstance(code, str) and isinstance(message, str) and code:
        return CommandError(code[:64], message[:_MAX_ERROR_TEXT], None)
    return None


async def run_text(text: str, ctx: CommandContext, registry: Registry) -> Reply:
    """Handle the command part of a message (after the prefix or mention), with the
    commands of ``registry``."""
    resolved = resolve(text, registry)
    if isinstance(resolved, CommandError):
        return Reply.failure(UNKNOWN, resolved)
    spec = resolved.spec
    refusal = authorize(spec, ctx)
    if refusal is not None:
        return Reply.failure(spec.name, refusal)
    command = bind(resolved)
    if isinstance(command, CommandError):
        return Reply.failure(spec.name, command)
    try:
        outcome = await command.run(dataclasses.replace(ctx, registry=registry))
    except CommandError as error:
        return Reply.failure(spec.name, error)
    except Exception as error:
        refused = _domain_error(error)
        if refused is not None:
            return Reply.failure(spec.name, refused)
        # Only the exception type: its text may quote personal data.
        log.error("command failed", extra={"command": spec.name, "error": type(error).__name__})
        return Reply.failure(
            spec.name,
            CommandError(
                ErrorCode.INTERNAL_ERROR,
                "Something went wrong on our side; nothing was changed. Staff have been told.",
                None,
            ),
        )
    return Reply.success(spec.name, outcome)


async def dispatch(
    body: str,
    ctx: CommandContext,
    *,
    bot: BotIdentity | None = None,
    formatted_body: str | None = None,
    registry: Registry,
) -> Reply | None:
    """The reply to a message, or None when the message is not addressed to the bot.

    Without ``bot`` only the ``!dsx`` prefix is recognized.
    """
    try:
        text = command_text(body, bot or BotIdentity(""), formatted_body)
    except Exception as error:  # defensive: a reply, never a traceback
        log.error("address check failed", extra={"error": type(error).__name__})
        text = None
    if text is None:
        return None
    return await run_text(text, ctx, registry)
