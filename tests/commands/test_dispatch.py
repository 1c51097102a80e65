"""Dispatch: who may run what, which use case runs, and how failures become replies."""

from __future__ import annotations

import logging

import pytest

from partner_bots.commands import REGISTRY, Audience, BotIdentity, BotTools, Registry
from partner_bots.commands import dispatch as dispatch_with
from partner_bots.commands.address import command_text
from tests.commands.fakes import FakeCore, FakeIdentities, Refused, context

BOT = BotIdentity("@dsx:example.org", "DSX")
USE_CASE = {
    "request": "file_request",
    "approve": "approve",
    "decline": "decline",
    "status": "status",
    "org add": "add_organization",
    "org ref": "reference",
    "provider add": "add_provider",
    "vouch": "record_vouch",
    "unvouch": "withdraw_vouch",
    "vet": "vet",
    "path": "path",
    "close": "close",
    "review": "review",
    "remove": "remove_member",
    "refer": "refer",
    "refuse": "refuse",
    "partner add": "register_partner",
    "queue": "vetting_queue",
    "login": None,  # the link is minted as the reply is sent
    "identity confirm": "transaction",
    "audit anchor": "anchor_audit",
    "help": None,
}
# Commands that speak in a partner's name: refused to staff before anything is parsed.
PARTNER_VOICE = {s.name for s in REGISTRY if s.audience is Audience.PARTNER}


async def dispatch(text, ctx, **kwargs):
    return await dispatch_with(text, ctx, registry=REGISTRY, **kwargs)


def test_every_command_is_listed_here():
    assert set(USE_CASE) == set(REGISTRY.names())


async def _mint(_user: str) -> str:
    return "https://example.org/login/x"


@pytest.mark.parametrize("spec", list(REGISTRY), ids=lambda s: s.name)
async def test_each_example_calls_its_use_case(spec):
    core = FakeCore()
    staff = spec.audience is Audience.STAFF
    waiting = FakeIdentities({"@maria:example.org": "master-key"})
    ctx = context(core, staff=staff, tools=BotTools(login=_mint, identities=waiting))
    reply = await dispatch(spec.example, ctx, bot=BOT)
    assert reply is not None and reply.ok, reply
    assert reply.command == spec.name
    if spec.name == "help":
        assert core.calls == []
        assert "org add" in reply.summary
    else:
        expected = [USE_CASE[spec.name]] if USE_CASE[spec.name] else []
        assert core.names == expected


@pytest.mark.parametrize("spec", [s for s in REGISTRY if s.audience is Audience.STAFF])
async def test_staff_commands_refused_outside_the_staff_room(spec):
    core = FakeCore()
    reply = await dispatch(spec.example, context(core, staff=False, member=True))
    assert not reply.ok and reply.error.code == "staff_only" and reply.refused
    assert reply.command == spec.name
    assert core.calls == []


PARTNER_SPECS = [s for s in REGISTRY if s.audience in (Audience.PARTNER, Audience.CASEWORK)]


@pytest.mark.parametrize("spec", PARTNER_SPECS, ids=lambda s: s.name)
async def test_partner_commands_refused_to_unlisted_senders(spec):
    core = FakeCore()
    reply = await dispatch(spec.example, context(core, member=False))
    assert not reply.ok and reply.error.code == "not_allowed"
    assert core.calls == []
    # The refusal comes before argument checks, so it does not depend on them.
    broken = await dispatch(f"!dsx {spec.name} zzz=1", context(core, member=False))
    assert broken.error.code == "not_allowed"


@pytest.mark.parametrize("spec", [s for s in REGISTRY if s.name in PARTNER_VOICE])
async def test_staff_do_not_speak_in_a_partners_name(spec):
    """Staff in the staff room are refused a partner's commands before any argument is
    read, with the code the core gives (the help says so too)."""
    core = FakeCore()
    reply = await dispatch(spec.example, context(core, staff=True, member=False))
    assert not reply.ok and reply.error.code == "not_a_partner_room" and reply.refused
    broken = await dispatch(f"!dsx {spec.name} zzz=1", context(core, staff=True, member=False))
    assert broken.error.code == "not_a_partner_room"
    assert core.calls == []
    assert "staff" not in spec.audience.description


def test_partner_voice_is_what_the_core_refuses_staff():
    assert PARTNER_VOICE == {
        "request",
        "approve",
        "decline",
        "org add",
        "org ref",
        "provider add",
        "vouch",
        "unvouch",
        "review",
    }


async def test_staff_room_may_use_casework_commands_and_anyone_help():
    core = FakeCore()
    reply = await dispatch("!dsx vet @m:x.org", context(core, staff=True, member=False))
    assert reply.ok
    (call,) = core.calls
    assert call.args[1].staff and call.args[1].partner is None
    reply = await dispatch("!dsx help vet", context(core, member=False))
    assert reply.ok and reply.summary.startswith("!dsx vet")


async def test_the_dispatcher_uses_the_registry_it_is_given():
    """A registry without ``request``: the same text is unknown there."""
    core = FakeCore()
    small = Registry([REGISTRY.get("help").model, REGISTRY.get("vet").model])
    reply = await dispatch_with("!dsx request Acme skills=a", context(core), registry=small)
    assert reply.error.code == "unknown_command" and core.calls == []
    listed = await dispatch_with("!dsx help", context(core), registry=small)
    assert "!dsx vet" in "\n".join(listed.details)
    assert "!dsx request" not in "\n".join(listed.details)


async def test_not_addressed_gives_none():
    core = FakeCore()
    assert await dispatch("just chatting", context(core), bot=BOT) is None
    assert core.calls == []


async def test_mention_dispatches():
    core = FakeCore()
    reply = await dispatch("DSX: status", context(core), bot=BOT)
    assert reply.ok and core.names == ["open_requests"]


async def test_parse_error_reply_has_example():
    reply = await dispatch("!dsx review E-1 conduct=9", context(FakeCore()))
    assert not reply.ok and reply.error.code == "bad_value" and not reply.refused
    assert reply.error.example == REGISTRY.get("review").example
    unknown = await dispatch("!dsx nonsense", context(FakeCore()))
    assert unknown.command == "unknown" and unknown.error.code == "unknown_command"


async def test_domain_error_becomes_reply():
    core = FakeCore(fail_with=Refused("unknown_proposal", "No proposal P-9."))
    reply = await dispatch("!dsx approve P-9", context(core))
    assert not reply.ok
    assert (reply.error.code, reply.error.message) == ("unknown_proposal", "No proposal P-9.")


async def test_coordinator_domain_error_is_understood():
    from coordinator.domain.errors import NotFound

    core = FakeCore(fail_with=NotFound("proposal", "P-9"))
    reply = await dispatch("!dsx approve P-9", context(core))
    assert reply.error.code == "unknown_proposal"


async def test_unexpected_exception_is_internal_error_without_details(caplog):
    secret = "Legal Aid Society private note"
    core = FakeCore(fail_with=RuntimeError(secret))
    with caplog.at_level(logging.DEBUG):
        reply = await dispatch(f'!dsx request Acme skills=a note="{secret}"', context(core))
    assert not reply.ok and reply.error.code == "internal_error"
    assert secret not in reply.error.message and secret not in reply.summary
    assert secret not in caplog.text
    assert any(getattr(r, "error", None) == "RuntimeError" for r in caplog.records)


async def test_command_text_with_only_prefix_is_help():
    assert command_text("!dsx", BOT) == ""
    reply = await dispatch("!dsx", context(FakeCore(), member=False))
    assert reply.ok and reply.command == "help" and len(reply.details) >= len(REGISTRY)


async def test_hostile_messages_get_clear_replies():
    core = FakeCore()
    ctx = context(core)
    huge = await dispatch("!dsx request Acme skills=a note=" + "x" * 10_000, ctx)
    assert huge.error.code == "too_long"
    rtl = await dispatch("!dsx org add \u202eAcme", ctx)
    assert rtl.error.code == "bad_value"
    nested = "<div>" * 5_000 + "hi" + "</div>" * 5_000
    assert await dispatch("hello", ctx, bot=BOT, formatted_body=nested) is None
    pill_then_nested = '<a href="https://matrix.to/#/@dsx:example.org">DSX</a> ' + nested
    reply = await dispatch("hello", ctx, bot=BOT, formatted_body=pill_then_nested)
    assert reply is not None and reply.error.code == "unknown_command"
    assert core.calls == []
