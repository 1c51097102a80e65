"""Hostile input: whatever arrives, parse returns a command or a CommandError, and dispatch
returns a reply (or None when not addressed), never an exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partner_bots.commands import REGISTRY, BotIdentity, CommandError, Reply
from partner_bots.commands import dispatch as dispatch_in
from partner_bots.commands import parse as parse_in
from partner_bots.commands.address import command_text
from partner_bots.render import reply_content
from tests.commands.fakes import FakeCore, context


def parse(text: str):
    return parse_in(text, REGISTRY)


async def dispatch(text, ctx, **kwargs):
    return await dispatch_in(text, ctx, registry=REGISTRY, **kwargs)


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
    services = FakeCore(fail_with=ValueError("boom") if failing else None)
    reply = await dispatch("!dsx " + text, context(services, staff=staff, member=member))
    assert isinstance(reply, Reply)
    assert reply.ok == (reply.error is None)
    if reply.ok:
        assert not failing or reply.command == "help"
    content = reply_content(reply)
    assert content["msgtype"] == "m.notice"
    assert "m.mentions" in content
    assert content["org.dsx.reply"]["ok"] is reply.ok


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple):
        return [item for part in value for item in _strings(part)]
    return []


@FUZZ
@given(grammar_text)
def test_parsed_values_are_clean_and_capped(text):
    from dataclasses import fields

    from partner_bots.render.text import has_unsafe_chars

    result = parse(text)
    if isinstance(result, CommandError):
        return
    for field in fields(result):
        for value in _strings(getattr(result, field.name)):
            assert len(value) <= 2_000
            assert not has_unsafe_chars(value.replace("\n", " "))


org_names = st.text(
    alphabet=st.characters(categories=["L", "N", "Zs"], exclude_characters="\u3000\u2028"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() and " ".join(s.split()) == s)
tags = st.from_regex(r"[a-z0-9][a-z0-9_+.-]{0,10}", fullmatch=True)


@FUZZ
@given(
    org_names,
    st.lists(tags, min_size=1, max_size=5, unique=True),
    st.sampled_from(["low", "NORMAL", "High", "critical"]),
    st.one_of(st.none(), st.sampled_from(["US", "us-ny", "Remote", "CA-QC"])),
)
def test_request_round_trip(org, skills, urgency, region):
    text = f'request "{org}" skills={",".join(skills)} urgency={urgency}'
    if region:
        text += f" region={region}"
    cmd = parse(text)
    assert not isinstance(cmd, CommandError), cmd
    assert cmd.org == org
    assert cmd.skills == tuple(skills)
    assert cmd.urgency.name == urgency.upper()
    assert cmd.region == (region.upper() if region else None)
