"""``!dsx help``: the command list, or one command's help, generated from the registry
the command was dispatched with."""

from __future__ import annotations

from partner_bots.commands import values as v
from partner_bots.commands.context import CommandContext, Outcome
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.commands.registry import Registry, command, help_lines
from partner_bots.commands.spec import Audience, arg, frozen

TOPIC = v.Pattern(
    v.re.compile(r"[a-z]{1,16}(?: [a-z]{1,16}){0,2}"), "<command>", "a command name", 50, True
)
NO_SUCH = "There is no command by that name."

TITLES = {
    Audience.PARTNER: "Partner commands",
    Audience.CASEWORK: "Partner and staff commands",
    Audience.STAFF: "Staff room commands",
    Audience.ANYONE: "For everyone",
}


class _Topic:
    """A command name (the greedy rest of the line, spaces tidied)."""

    hint = "<command>"

    def parse(self, label: str, raw: str) -> str:
        return TOPIC.parse(label, " ".join(raw.split()))


@command(
    "help",
    Audience.ANYONE,
    summary="List the commands, or explain one.",
    example="!dsx help org add",
    changes_state=False,
)
@frozen
class HelpCommand:
    topic: str | None = arg(_Topic(), "a command name", optional=True, greedy=True)

    async def run(self, ctx: CommandContext) -> Outcome:
        return help_outcome(ctx.registry or Registry(), self.topic)


def help_outcome(registry: Registry, topic: str | None) -> Outcome:
    """The command list, or one command's help; unknown topics are an error."""
    if topic is None:
        details: list[str] = []
        for audience, specs in registry.by_audience().items():
            if specs:
                details.append(f"{TITLES[audience]}:")
                details += [f"  {spec.syntax} — {spec.summary}" for spec in specs]
        return Outcome(
            "DSX coordinator commands. Send “!dsx help NAME” for one command.", tuple(details)
        )
    spec = registry.get(topic)
    if spec is None:
        raise CommandError(ErrorCode.UNKNOWN_COMMAND, NO_SUCH, "!dsx help")
    lines = help_lines(spec)
    return Outcome(lines[0], lines[1:])
