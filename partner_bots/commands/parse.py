"""Message text → a typed command, or a CommandError saying what was wrong and how to fix it.

Parsing is split so that dispatch can check who is asking after the command is known but
before its arguments are looked at: a refusal never depends on (or leaks) argument checks.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from partner_bots.commands.catalog import REGISTRY
from partner_bots.commands.context import Command
from partner_bots.commands.errors import CommandError, ErrorCode
from partner_bots.commands.lexer import Token, tokenize
from partner_bots.commands.registry import CommandSpec, Registry

HELP_EXAMPLE = "!dsx help"


@dataclass(frozen=True)
class Resolved:
    """A command name found, with the tokens that follow it."""

    spec: CommandSpec
    rest: tuple[Token, ...]


def _suggest(words: list[str], registry: Registry) -> str:
    typed = " ".join(word.lower() for word in words[:2])
    close = difflib.get_close_matches(typed, registry.names(), n=1, cutoff=0.6)
    if not close and words:
        close = difflib.get_close_matches(words[0].lower(), registry.names(), n=1, cutoff=0.6)
    return f"!dsx help {close[0]}" if close else HELP_EXAMPLE


def resolve(text: str, registry: Registry = REGISTRY) -> Resolved | CommandError:
    """Find which command the text names; an empty text asks for help."""
    try:
        tokens = tokenize(text)
    except CommandError as error:
        return error.with_example(HELP_EXAMPLE)
    if not tokens:
        spec = registry.get("help")
        if spec is None:
            return CommandError(ErrorCode.UNKNOWN_COMMAND, "No command given.", None)
        return Resolved(spec, ())
    leading: list[str] = []
    for token in tokens:
        if token.key is not None or token.quoted:
            break
        leading.append(token.text)
    found = registry.match(leading)
    if found is None:
        if leading and leading[0].lower() in registry.group_names():
            group = leading[0].lower()
            choices = ", ".join(n for n in registry.names() if n.startswith(group + " "))
            return CommandError(
                ErrorCode.UNKNOWN_COMMAND,
                f"“{group}” needs a second word: {choices}.",
                f"!dsx help {group} {choices.split(', ')[0].split()[-1]}",
            )
        return CommandError(
            ErrorCode.UNKNOWN_COMMAND,
            "I don't know that command. Send “!dsx help” for the list.",
            _suggest(leading, registry),
        )
    spec, size = found
    return Resolved(spec, tuple(tokens[size:]))


def bind(resolved: Resolved) -> Command | CommandError:
    """The typed command for the resolved tokens, or the error (with the command's example)."""
    spec = resolved.spec
    try:
        return _bind(spec, resolved.rest)
    except CommandError as error:
        return error.with_example(spec.example)


def _bind(spec: CommandSpec, tokens: tuple[Token, ...]) -> Command:
    values: dict[str, Any] = {}
    given: set[str] = set()
    positionals = list(spec.positionals)
    words = [token for token in tokens if token.key is None]
    for token in tokens:
        if token.key is None:
            continue
        param = spec.option(token.key)
        if param is None:
            options = [p.key for p in spec.params if not p.positional]
            close = difflib.get_close_matches(token.key, options, n=1)
            hint = f" Did you mean {close[0]}=?" if close else ""
            known = ", ".join(options) if options else "none"
            raise CommandError(
                ErrorCode.UNKNOWN_OPTION,
                f"{spec.name} has no option by that name (options: {known}).{hint}",
            )
        if param.key in given:
            raise CommandError(ErrorCode.DUPLICATE_OPTION, f"{param.key}= was given twice.")
        given.add(param.key)
        values[param.field] = param.kind.parse(param.key, token.text)
    for param in positionals:
        if param.key in given:  # a positional may also be written as key=value
            continue
        if not words:
            break
        if param.greedy:
            text = " ".join(token.text for token in words)
            words = []
        else:
            text = words.pop(0).text
        values[param.field] = param.kind.parse(param.key, text)
        given.add(param.key)
    if words:
        raise CommandError(
            ErrorCode.EXTRA_ARGUMENT,
            f"{spec.name} got more words than it takes; put names with spaces in quotes.",
        )
    for param in spec.params:
        if param.required and param.key not in given:
            what = f"<{param.key}>" if param.positional else f"{param.key}="
            raise CommandError(
                ErrorCode.MISSING_ARGUMENT, f"{spec.name} needs {what} ({param.help})."
            )
    return spec.model(**values)


def parse(text: str, registry: Registry = REGISTRY) -> Command | CommandError:
    """The typed command for text that follows the prefix, or a CommandError (returned)."""
    resolved = resolve(text, registry)
    if isinstance(resolved, CommandError):
        return resolved
    return bind(resolved)
