"""``!dsx identity confirm``: audited in the core, then the bot's pins move."""

from __future__ import annotations

from partner_bots.commands import BotTools
from tests.commands.fakes import FakeCore, FakeIdentities, context, say


async def test_confirms_a_pending_identity_only():
    identities = FakeIdentities({"@maria:example.org": "master-key"})
    core = FakeCore()
    ctx = context(core, staff=True, tools=BotTools(identities=identities))
    result = await say("!dsx identity confirm @maria:example.org", ctx)
    assert result.ok and result.mentions == ("@maria:example.org",)
    assert core.names == ["transaction"]
    assert identities.confirmed == [("@maria:example.org", "master-key")]
    none = await say("!dsx identity confirm @other:example.org", ctx)
    assert none.error.code == "no_identity_change"
    nobot = await say("!dsx identity confirm @maria:example.org", context(core, staff=True))
    assert nobot.error.code == "bot_not_running"
