"""Help is generated from the table: it lists every command and explains each one."""

from __future__ import annotations

import pytest

from partner_bots.commands import REGISTRY, Audience, CommandError, Outcome, Registry, command
from partner_bots.commands.general.help import help_outcome as help_of
from partner_bots.commands.spec import arg
from partner_bots.commands.values import HANDLE

SPECS = list(REGISTRY)


def help_outcome(topic):
    return help_of(REGISTRY, topic)


def test_help_lists_every_command_grouped_by_audience():
    outcome = help_outcome(None)
    text = "\n".join(outcome.details)
    for spec in SPECS:
        assert spec.syntax in text, spec.name
    headings = [line for line in outcome.details if line.endswith(":")]
    assert headings == [
        "Partner commands:",
        "Partner and staff commands:",
        "Staff room commands:",
        "For everyone:",
    ]
    staff_start = outcome.details.index("Staff room commands:")
    staff_block = outcome.details[staff_start : outcome.details.index("For everyone:")]
    assert any("!dsx remove" in line for line in staff_block)
    assert not any("!dsx request" in line for line in staff_block)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_help_for_one_command(spec):
    outcome = help_outcome(spec.name.upper())
    text = "\n".join([outcome.summary, *outcome.details])
    assert outcome.summary == spec.syntax
    assert f"Example: {spec.example}" in text
    assert spec.audience.description in text
    for param in spec.params:
        assert param.syntax in text


async def test_help_for_an_unknown_topic_is_an_error_reply():
    from partner_bots.commands import dispatch
    from tests.commands.fakes import FakeCore, context

    reply = await dispatch("!dsx help frobnicate", context(FakeCore()), registry=REGISTRY)
    assert not reply.ok and reply.error.code == "unknown_command"
    assert reply.error.example == "!dsx help"


def test_help_unknown_topic_is_an_error():
    with pytest.raises(CommandError) as raised:
        help_outcome("nope")
    assert raised.value.code == "unknown_command"


def test_syntax_marks_optional_and_required():
    request = REGISTRY.get("request")
    assert request.syntax.startswith("!dsx request <org> skills=<a,b> [langs=<en,es>]")
    assert "[urgency=low|normal|high|critical]" in request.syntax
    assert REGISTRY.get("vouch").syntax == "!dsx vouch <member> [as=vouch|reference]"


def test_audiences_follow_the_design():
    staff = {spec.name for spec in SPECS if spec.audience is Audience.STAFF}
    assert staff == {
        "remove",
        "refuse",
        "partner add",
        "queue",
        "login",
        "identity confirm",
        "audit anchor",
    }
    assert REGISTRY.get("help").audience is Audience.ANYONE


def test_only_reading_commands_skip_the_device_check():
    """A new command changes state (needs a trusted device) unless it says otherwise."""
    reading = {spec.name for spec in SPECS if not spec.changes_state}
    assert reading == {"status", "path", "queue", "help"}


def test_declaring_a_command_is_one_class():
    from dataclasses import dataclass

    @command("ping", Audience.ANYONE, summary="Ping.", example="!dsx ping x")
    @dataclass(frozen=True, kw_only=True)
    class Ping:
        who: str = arg(HANDLE, "who")

        async def run(self, ctx):
            return Outcome(self.who)

    registry = Registry([Ping])
    spec = registry.get("ping")
    assert spec.model is Ping and spec.syntax == "!dsx ping <who>"
    assert registry.match(["PING", "x"]) == (spec, 1)
    with pytest.raises(ValueError):
        registry.add(Ping)
    with pytest.raises(TypeError):
        registry.add(type("Undeclared", (), {"run": Ping.run}))


def test_the_bots_table_is_every_module_of_the_command_packages():
    """Adding a command is adding a module: discovery finds one command per module."""
    import importlib
    import pkgutil

    from partner_bots.commands.table import PACKAGES

    modules = [
        f"{package}.{info.name}"
        for package in PACKAGES
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__)
    ]
    assert sorted(spec.model.__module__ for spec in REGISTRY) == sorted(modules)
