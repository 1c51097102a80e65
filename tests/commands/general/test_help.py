"""``!dsx help``: generated from the registry the dispatcher was given."""

from __future__ import annotations

from partner_bots.commands import REGISTRY
from tests.commands.fakes import FakeCore, context, say


async def test_help_lists_the_table_and_explains_one():
    core = FakeCore()
    listed = await say("!dsx help", context(core, member=False))
    assert all(any(spec.syntax in d for d in listed.details) for spec in REGISTRY)
    one = await say("!dsx help ORG   add", context(core, member=False))
    assert one.summary == REGISTRY.get("org add").syntax
    assert (await say("!dsx help nope", context(core))).error.code == "unknown_command"
    assert core.calls == []
