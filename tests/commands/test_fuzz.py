"""Hostile input: whatever arrives, parse returns a command or a CommandError, and dispatch
returns a reply (or None when not addressed), never an exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partner_bots.commands import REGISTRY, BotIdentity, CommandError, Reply, dispatch, parse
from partner_bots.commands.address import command_text
from partner_bots.render import reply_content
from tests.commands.fakes import RecordingServices, context

BOT = BotIdentity("@dsx:example.org", "DSX")
NAMES = [spec.name for spec in REGISTRY]
KEYS = sorted({param.key for spec in REGISTRY for param in spec.params})
NASTY = ["\u202e", "\u2066", "\x00", "\x1b[31m", "<b>", "&amp;", '"', "'", "“", "=", ",", "\\"]

word = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
grammar_token = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(NASTY),
    word,
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), word),
    st.builds(lambda k, v: f'{k}="{v}"', st.sampled_from(KEYS), word),
    st.builds(lambda v: f"'{v}'", word),
    st.sampled_from(["@a:b.org", "@x", "!r:s.org", "US-CA", "remote", "5", "yes", "phishing"]),
)
grammar_text = st.lists(grammar_token, max_size=10).map(" ".join)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_parse(text: str) -> None:
    result = parse(text)
    if isinstance(result, CommandError):
        assert result.code and result.message
    else:
        assert type(result) in {spec.model for spec in REGISTRY}


@FUZZ
@given(st.text(max_size=300))
def test_parse_arbitrary_text(text):
    check_parse(text)


@FUZZ
@given(grammar_text)
def test_parse_grammar_tokens(text):
    check_parse(text)


@FUZZ
@given(st.sampled_from(list(REGISTRY)), st.lists(grammar_token, max_size=6))
def test_parse_mutated_examples(spec, extra):
    words = spec.example.split(" ")
    check_parse(" ".join(words[1:] + extra))


@FUZZ
@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=200)))
def test_addressing_never_raises(body, formatted):
    result = command_text(body, BOT, formatted)
    assert result is None or isinstance(result, str)


@FUZZ
@given(
    st.one_of(grammar_text, st.text(max_size=200)),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
async def test_dispatch_always_replies(text, staff, member, failing):
    services = RecordingServices(fail_with=ValueError("boom") if failing else None)
    reply = await dispatch("!dsx " + text, context(services, staff=staff, member=member))
    assert isinstance(reply, Reply)
    assert reply.ok == (reply.error is None)
    if reply.ok:
        assert not failing or reply.command == "help"
    content = reply_content(reply)
    assert content["msgtype"] == "m.notice"
    assert "m.mentions" in content
    assert content["org.dsx.reply"]["ok"] is reply.ok
