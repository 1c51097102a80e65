"""Room commands: parsing, the declarative command table, authorization and dispatch."""

from partner_bots.commands.address import PREFIX, BotIdentity, command_text
from partner_bots.commands.catalog import REGISTRY
from partner_bots.commands.context import Command, CommandContext, Outcome, Reply, Services
from partner_bots.commands.dispatch import authorize, dispatch, run_text
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.commands.parse import parse
from partner_bots.commands.registry import CommandSpec, Registry
from partner_bots.commands.spec import Audience

__all__ = [
    "PREFIX",
    "REGISTRY",
    "Audience",
    "BotIdentity",
    "Command",
    "CommandContext",
    "CommandError",
    "CommandSpec",
    "ErrorCode",
    "Outcome",
    "Registry",
    "Reply",
    "Services",
    "authorize",
    "command_text",
    "dispatch",
    "parse",
    "run_text",
]
