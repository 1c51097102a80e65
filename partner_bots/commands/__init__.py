"""Room commands: parsing, one module per command (``cases/``, ``engagements/``,
``members/``, ``staff/``, ``general/``), authorization and dispatch. ``REGISTRY`` is the
table the bot dispatches with (``table.py``)."""

from partner_bots.commands.address import PREFIX, BotIdentity, command_text
from partner_bots.commands.context import BotTools, Command, CommandContext, Outcome, Reply
from partner_bots.commands.dispatch import authorize, dispatch, run_text
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.commands.parse import parse, parse_message
from partner_bots.commands.registry import CommandSpec, Registry, command
from partner_bots.commands.spec import Audience
from partner_bots.commands.table import REGISTRY

__all__ = [
    "PREFIX",
    "REGISTRY",
    "Audience",
    "BotIdentity",
    "BotTools",
    "Command",
    "CommandContext",
    "CommandError",
    "CommandSpec",
    "ErrorCode",
    "Outcome",
    "Registry",
    "Reply",
    "authorize",
    "command",
    "command_text",
    "dispatch",
    "parse",
    "parse_message",
    "run_text",
]
