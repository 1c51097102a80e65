"""``!dsx login``: a placeholder the link replaces at send time; no dashboard, no link."""

from __future__ import annotations

from partner_bots.commands import BotTools
from partner_bots.workflow.login import PLACEHOLDER, SUMMARY
from tests.commands.fakes import FakeCore, context, say


async def _mint(_user: str) -> str:
    return "https://example.org/login/secret"


async def test_the_reply_holds_a_placeholder_never_a_link():
    core = FakeCore()
    result = await say("!dsx login", context(core, staff=True, tools=BotTools(login=_mint)))
    assert (result.summary, result.details) == (SUMMARY, (PLACEHOLDER,))
    assert "secret" not in result.summary + "".join(result.details) and core.calls == []
    off = await say("!dsx login", context(core, staff=True))
    assert off.error.code == "web_disabled"
