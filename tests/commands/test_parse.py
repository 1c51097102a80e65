"""Parsing: every help example parses, malformed input gets the right code and an example."""

from __future__ import annotations

import pytest

from coordinator.routing.models import Urgency
from partner_bots.commands import REGISTRY, BotIdentity, CommandError
from partner_bots.commands import parse as parse_in
from partner_bots.commands import parse_message as parse_message_in
from partner_bots.commands.address import command_text
from partner_bots.commands.cases.request import RequestCommand
from partner_bots.commands.cases.status import StatusCommand
from partner_bots.commands.lexer import MAX_BODY, Token, tokenize
from partner_bots.commands.members.org_add import OrgAddCommand
from partner_bots.commands.members.org_ref import OrgRefCommand
from partner_bots.commands.members.vet import VetCommand
from partner_bots.commands.members.vouch import VouchKind

BOT = BotIdentity("@dsx:example.org", "DSX Bot")
SPECS = list(REGISTRY)


def parse(text: str):
    return parse_in(text, REGISTRY)


def parse_message(body: str, bot: BotIdentity, formatted: str | None = None):
    return parse_message_in(body, bot, formatted, registry=REGISTRY)


def strip_prefix(example: str) -> str:
    text = command_text(example, BOT)
    assert text is not None, example
    return text


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_help_example_parses_to_its_own_type(spec):
    parsed = parse(strip_prefix(spec.example))
    assert not isinstance(parsed, CommandError), parsed
    assert type(parsed) is spec.model


def test_registry_covers_the_protocol():
    expected = {
        "request", "approve", "decline", "status", "org add", "org ref", "provider add",
        "vouch", "unvouch", "vet", "path", "close", "review", "remove", "refer", "refuse",
        "partner add", "queue", "login", "help", "identity confirm",
        "audit anchor",
    }  # fmt: skip
    assert set(REGISTRY.names()) == expected


def test_request_fields_are_typed():
    cmd = parse(
        "REQUEST 'Legal Aid' Skills=Phishing,devices,phishing langs=EN,es "
        'region=us-ca URGENCY=Critical note="needs help with phones"'
    )
    assert cmd == RequestCommand(
        org="Legal Aid",
        skills=("phishing", "devices"),
        langs=("en", "es"),
        region="US-CA",
        urgency=Urgency.CRITICAL,
        note="needs help with phones",
    )


def test_request_defaults():
    cmd = parse("request Org skills=devices")
    assert cmd.urgency is Urgency.NORMAL
    assert (cmd.langs, cmd.region, cmd.note) == ((), None, None)


def test_multi_word_commands_and_keyword_positionals():
    assert parse("Org Ref Acme from='Other Org'") == OrgRefCommand(org="Acme", from_="Other Org")
    assert parse("org add org=Acme") == OrgAddCommand(org="Acme")
    assert parse("partner add p1 #room:example.org").room == "#room:example.org"


def test_options_and_flags():
    assert parse("vouch @a:b.org").as_ is VouchKind.VOUCH
    assert parse("vouch @a:b.org AS=Reference").as_ is VouchKind.REFERENCE
    assert parse("close E-1 archive=yes").archive is True
    assert parse("close E-1").archive is False
    assert parse("status") == StatusCommand(id=None)
    assert parse("help").topic is None
    assert parse("help ORG add").topic == "org add"
    assert parse("path alice from=@b:c.org").from_ == "@b:c.org"
    assert parse(
        "provider add @m:x.org skills=a langs=en regions=us,Remote capacity=3"
    ).regions == (
        "US",
        "REMOTE",
    )


def test_curly_quotes_and_apostrophes():
    assert parse("org add “Tenants’ Union”").org == "Tenants’ Union"
    assert parse("org add O'Brien").org == "O'Brien"
    assert parse(r'decline P-1 reason="said \"no\""').reason == 'said "no"'


MALFORMED = [
    ("frobnicate", "unknown_command"),
    ("org", "unknown_command"),
    ("org delete X", "unknown_command"),
    ("request", "missing_argument"),
    ("request Acme", "missing_argument"),
    ("request Acme skills=", "bad_value"),
    ("request Acme skills=a urgency=extreme", "bad_value"),
    ("request Acme skills=a region=California", "bad_value"),
    ("request Acme skills=a langs=english", "bad_value"),
    ("request Acme skills=a colour=red", "unknown_option"),
    ("request Acme skills=a skills=b", "duplicate_option"),
    ("request Legal Aid skills=a", "extra_argument"),
    ('request "Legal Aid skills=a', "unbalanced_quote"),
    ("request Acme skills=a note=" + "x" * 2001, "too_long"),
    ("request Acme\u202e skills=a", "bad_value"),
    ("request Ac\x07me skills=a", "bad_value"),
    ("request " + "A" * 121 + " skills=a", "too_long"),
    ("approve", "missing_argument"),
    ("approve P 1", "extra_argument"),
    ("approve <script>", "bad_value"),
    ("decline P-1 reason=" + "x" * 501, "too_long"),
    ("status a b", "extra_argument"),
    ("org add", "missing_argument"),
    ("org add Acme region=", "bad_value"),
    ("org ref Acme", "missing_argument"),
    ("provider add maria skills=a langs=en regions=US capacity=1", "bad_value"),
    ("provider add @maria skills=a langs=en regions=US capacity=1", "bad_value"),
    ("provider add @m:x.org skills=a langs=en regions=US capacity=0", "bad_value"),
    ("provider add @m:x.org skills=a langs=en regions=US capacity=-1", "bad_value"),
    ("provider add @m:x.org skills=a langs=en regions=US capacity=two", "bad_value"),
    ("provider add @m:x.org skills=a langs=en regions=US", "missing_argument"),
    ("provider add @m:x.org skills=a langs=en regions=US capacity=1 skills=b", "duplicate_option"),
    ("vouch", "missing_argument"),
    ("vouch @m:x.org as=friend", "bad_value"),
    ("unvouch @m@x", "bad_value"),
    ("vet", "missing_argument"),
    ("path @m:x.org from=@@", "bad_value"),
    ("close E-1 archive=maybe", "bad_value"),
    ("review E-1 conduct=5 contract=5", "missing_argument"),
    ("review E-1 conduct=6 contract=5 communication=5", "bad_value"),
    ("review E-1 conduct=0 contract=5 communication=5", "bad_value"),
    ("review E-1 conduct=٣ contract=5 communication=5", "bad_value"),
    ("remove @m:x.org", "missing_argument"),
    ("remove @m:x.org reason=", "bad_value"),
    ("refer R-1", "missing_argument"),
    ("refer R-1 to=access\u2066now", "bad_value"),
    ("refuse R-1", "missing_argument"),
    ("refuse R-1 reason='hate speech'", "bad_value"),
    ("partner add p1", "missing_argument"),
    ("partner add p1 room", "bad_value"),
    ("login now", "extra_argument"),
    ("queue all", "extra_argument"),
    ("x" * (MAX_BODY + 1), "too_long"),
]


@pytest.mark.parametrize(("text", "code"), MALFORMED, ids=[m[0][:40] for m in MALFORMED])
def test_malformed_input_gets_code_and_example(text, code):
    error = parse(text)
    assert isinstance(error, CommandError)
    assert error.code == code
    assert error.message
    assert error.example and error.example.startswith("!dsx")


def test_every_command_reports_missing_or_extra_arguments():
    for spec in SPECS:
        if spec.params and any(p.required for p in spec.params):
            error = parse(spec.name)
            assert isinstance(error, CommandError), spec.name
            assert error.code == "missing_argument"
            assert error.example == spec.example
        bad = parse(strip_prefix(spec.example) + " zzz=1")
        assert isinstance(bad, CommandError) and bad.code == "unknown_option", spec.name
        assert bad.example == spec.example


def test_error_messages_do_not_echo_values():
    secret = "SecretOrgName"
    for text in (f"request {secret}\x00 skills=a", f"provider add {secret} skills=a"):
        error = parse(text)
        assert isinstance(error, CommandError)
        assert secret not in error.message


def test_unknown_command_suggests_the_closest():
    error = parse("reqest Acme")
    assert error.code == "unknown_command"
    assert error.example == "!dsx help request"


def test_tokenizer():
    assert tokenize('a "b c" k="d e" K2=f') == [
        Token("a"),
        Token("b c", quoted=True),
        Token("d e", key="k", quoted=True),
        Token("f", key="k2"),
    ]
    with pytest.raises(CommandError) as raised:
        tokenize('k="a"b')
    assert raised.value.code == "unbalanced_quote"


ADDRESSED = [
    ("!dsx status", "status"),
    ("!DSX   status", "status"),
    ("  !Dsx", ""),
    ("@dsx:example.org: status", "status"),
    ("DSX Bot, status", "status"),
    ("dsx bot status", "status"),
]


@pytest.mark.parametrize(("body", "rest"), ADDRESSED)
def test_addressing(body, rest):
    assert command_text(body, BOT) == rest


@pytest.mark.parametrize(
    "body", ["status", "!dsxstatus", "hello !dsx status", "@dsx:example.orgx status", ""]
)
def test_not_addressed(body):
    assert command_text(body, BOT) is None


def test_html_pill_mention():
    formatted = '<a href="https://matrix.to/#/@dsx:example.org">Coordinator</a>: vet @m:x.org'
    assert command_text("Coordinator: vet @m:x.org", BOT, formatted) == "vet @m:x.org"
    # A client whose plain body differs from the pill label still works through the HTML.
    assert command_text("something else", BOT, formatted) == "vet @m:x.org"
    other = '<a href="https://matrix.to/#/@eve:example.org">Coordinator</a>: vet @m:x.org'
    assert command_text("Coordinator: vet @m:x.org", BOT, other) is None
    parsed = parse_message("Coordinator: vet @m:x.org", BOT, formatted)
    assert parsed == VetCommand(member="@m:x.org")


def test_reply_fallbacks_from_older_clients_are_ignored():
    body = "> <@ana:x.org> Proposal P-1 for request R-7\n> more\n\n!dsx approve P-1"
    assert command_text(body, BOT) == "approve P-1"
    formatted = (
        "<mx-reply><blockquote>quoted <a href='https://matrix.to/#/@x:y'>x</a>"
        "</blockquote></mx-reply>"
        '<a href="https://matrix.to/#/@dsx:example.org">DSX Bot</a>: approve P-1'
    )
    assert command_text("> quoted\n\nDSX Bot: approve P-1", BOT, formatted) == "approve P-1"
    assert command_text("> !dsx approve P-1", BOT) is None


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("status R-1A2B3C4D", "id", "r-1a2b3c4d"),
        ("approve P-DB065BBC", "proposal", "p-db065bbc"),
        ("close E-4F1C2A9D", "engagement", "e-4f1c2a9d"),
        ("refer R-1A2B3C4D to=globe", "request", "r-1a2b3c4d"),
    ],
)
def test_ids_are_read_case_insensitively(text, field, expected):
    """The core's ids are lower case; one typed in capitals names the same case."""
    assert getattr(parse(text), field) == expected


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_examples_show_real_id_shapes(spec):
    """Help examples use ids as the core makes them (``p-db065bbc``), never ``P-12``."""
    import re

    for word in spec.example.split():
        if re.fullmatch(r"[A-Za-z]-\w+", word):
            assert re.fullmatch(r"[rpe]-[0-9a-f]{8}", word), (spec.name, word)
