"""``!dsx partner add``: staff register a partner by room id, not alias."""

from __future__ import annotations

from tests.commands.fakes import SENDER, FakeCore, context, say


async def test_registers_with_a_room_id_only():
    core = FakeCore()
    result = await say("!dsx partner add tenants-union !AbC:example.org", context(core, staff=True))
    assert result.summary.startswith("Partner tenants-union registered")
    (call,) = core.calls
    assert call.args == ("tenants-union", ("!AbC:example.org",), ())
    assert call.kwargs == {"actor": SENDER, "event_id": "$ev"}
    alias = FakeCore()
    refused = await say("!dsx partner add t #t:example.org", context(alias, staff=True))
    assert refused.error.code == "room_id_needed" and alias.calls == []
