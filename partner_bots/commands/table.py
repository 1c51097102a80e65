"""The room commands: every module of these packages declares one (``@command``).

Adding a command is adding a module (and its test, tests/commands/); this list names
packages, not commands. The bot hands this registry to the dispatcher.
"""

from __future__ import annotations

from partner_bots.commands.registry import Registry

PACKAGES = (
    "partner_bots.commands.cases",
    "partner_bots.commands.engagements",
    "partner_bots.commands.members",
    "partner_bots.commands.staff",
    "partner_bots.commands.general",
)

REGISTRY = Registry.discover(*PACKAGES)
