"""Dispatch: who may run what, which use case runs, and how failures become replies."""

from __future__ import annotations

import logging

import pytest

from partner_bots.commands import REGISTRY, Audience, BotIdentity, dispatch
from partner_bots.commands.address import command_text
from tests.commands.fakes import RecordingServices, Refused, context

BOT = BotIdentity("@dsx:example.org", "DSX")
USE_CASE = {
    "request": "file_request",
    "approve": "approve",
    "decline": "decline",
    "status": "status",
    "org add": "add_org",
    "org ref": "ref_org",
    "provider add": "add_provider",
    "vouch": "vouch",
    "unvouch": "unvouch",
    "vet": "vet",
    "path": "path",
    "close": "close",
    "review": "review",
    "remove": "remove",
    "refer": "refer",
    "refuse": "refuse",
    "partner add": "add_partner",
    "queue": "vetting_queue",
    "login": "login_link",
    "identity confirm": "confirm_identity",
    "audit anchor": "audit_anchor",
}


@pytest.mark.parametrize("spec", list(REGISTRY), ids=lambda s: s.name)
async def test_each_example_calls_its_use_case(spec):
    services = RecordingServices()
    ctx = context(services, staff=spec.audience is Audience.STAFF)
    reply = await dispatch(spec.example, ctx, bot=BOT)
    assert reply is not None and reply.ok, reply
    assert reply.command == spec.name
    if spec.name == "help":
        assert services.calls == []
        assert "org add" in reply.summary
    else:
        assert [name for name, _ in services.calls] == [USE_CASE[spec.name]]
        assert type(services.calls[0][1]) is spec.model
        assert reply.summary == f"{USE_CASE[spec.name]} done"
        assert reply.mentions == (ctx.sender,)


@pytest.mark.parametrize("spec", [s for s in REGISTRY if s.audience is Audience.STAFF])
async def test_staff_commands_refused_outside_the_staff_room(spec):
    services = RecordingServices()
    reply = await dispatch(spec.example, context(services, staff=False, member=True))
    assert not reply.ok and reply.error.code == "staff_only" and reply.refused
    assert reply.command == spec.name
    assert services.calls == []


@pytest.mark.parametrize("spec", [s for s in REGISTRY if s.audience is Audience.PARTNER])
async def test_partner_commands_refused_to_unlisted_senders(spec):
    services = RecordingServices()
    reply = await dispatch(spec.example, context(services, member=False))
    assert not reply.ok and reply.error.code == "not_allowed"
    assert services.calls == []
    # The refusal comes before argument checks, so it does not depend on them.
    broken = await dispatch(f"!dsx {spec.name} zzz=1", context(services, member=False))
    assert broken.error.code == "not_allowed"


async def test_staff_room_may_use_partner_commands_and_anyone_help():
    services = RecordingServices()
    reply = await dispatch("!dsx vet @m:x.org", context(services, staff=True, member=False))
    assert reply.ok
    reply = await dispatch("!dsx help vet", context(services, member=False))
    assert reply.ok and reply.summary.startswith("!dsx vet")


async def test_not_addressed_gives_none():
    services = RecordingServices()
    assert await dispatch("just chatting", context(services), bot=BOT) is None
    assert services.calls == []


async def test_mention_dispatches():
    services = RecordingServices()
    reply = await dispatch("DSX: status", context(services), bot=BOT)
    assert reply.ok and services.calls[0][0] == "status"


async def test_parse_error_reply_has_example():
    reply = await dispatch("!dsx review E-1 conduct=9", context(RecordingServices()))
    assert not reply.ok and reply.error.code == "bad_value" and not reply.refused
    assert reply.error.example == REGISTRY.get("review").example
    unknown = await dispatch("!dsx nonsense", context(RecordingServices()))
    assert unknown.command == "unknown" and unknown.error.code == "unknown_command"


async def test_domain_error_becomes_reply():
    services = RecordingServices(fail_with=Refused("unknown_proposal", "No proposal P-9."))
    reply = await dispatch("!dsx approve P-9", context(services))
    assert not reply.ok
    assert (reply.error.code, reply.error.message) == ("unknown_proposal", "No proposal P-9.")


async def test_coordinator_domain_error_is_understood():
    from coordinator.domain.errors import NotFound

    services = RecordingServices(fail_with=NotFound("proposal", "P-9"))
    reply = await dispatch("!dsx approve P-9", context(services))
    assert reply.error.code == "unknown_proposal"


async def test_unexpected_exception_is_internal_error_without_details(caplog):
    secret = "Legal Aid Society private note"
    services = RecordingServices(fail_with=RuntimeError(secret))
    with caplog.at_level(logging.DEBUG):
        reply = await dispatch(f'!dsx request Acme skills=a note="{secret}"', context(services))
    assert not reply.ok and reply.error.code == "internal_error"
    assert secret not in reply.error.message and secret not in reply.summary
    assert secret not in caplog.text
    assert any(getattr(r, "error", None) == "RuntimeError" for r in caplog.records)


async def test_command_text_with_only_prefix_is_help():
    assert command_text("!dsx", BOT) == ""
    reply = await dispatch("!dsx", context(RecordingServices(), member=False))
    assert reply.ok and reply.command == "help" and len(reply.details) >= len(REGISTRY)


async def test_hostile_messages_get_clear_replies():
    services = RecordingServices()
    ctx = context(services)
    huge = await dispatch("!dsx request Acme skills=a note=" + "x" * 10_000, ctx)
    assert huge.error.code == "too_long"
    rtl = await dispatch("!dsx org add \u202eAcme", ctx)
    assert rtl.error.code == "bad_value"
    nested = "<div>" * 5_000 + "hi" + "</div>" * 5_000
    assert await dispatch("hello", ctx, bot=BOT, formatted_body=nested) is None
    pill_then_nested = '<a href="https://matrix.to/#/@dsx:example.org">DSX</a> ' + nested
    reply = await dispatch("hello", ctx, bot=BOT, formatted_body=pill_then_nested)
    assert reply is not None and reply.error.code == "unknown_command"
    assert services.calls == []
