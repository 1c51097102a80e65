"""Declaring a command's arguments on its own dataclass, so the type, the parser and the help
text cannot drift apart."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from partner_bots.commands.values import Kind

_META = "dsx.param"

# A command's arguments: a frozen, keyword-only dataclass.
frozen = dataclass(frozen=True, kw_only=True)


class Audience(StrEnum):
    """Who may run a command. The caller decides membership; dispatch enforces the rule
    before any argument is parsed."""

    PARTNER = "partner"  # authorized members of a partner room: speaks in its partner's name
    CASEWORK = "casework"  # the same, or staff in the staff room (about any case)
    STAFF = "staff"  # the staff room only
    ANYONE = "anyone"

    @property
    def description(self) -> str:
        return {
            Audience.PARTNER: "members of a partner room, in their partner's name",
            Audience.CASEWORK: "members of a partner room, and staff in the staff room",
            Audience.STAFF: "staff, in the staff room only",
            Audience.ANYONE: "anyone",
        }[self]


@dataclass(frozen=True)
class Param:
    field: str  # the dataclass field
    key: str  # the option name people type (key=value), or the positional's label
    kind: Kind
    help: str
    positional: bool
    required: bool
    greedy: bool = False  # a trailing positional that takes all remaining words

    @property
    def syntax(self) -> str:
        if self.positional:
            text = f"<{self.key}>"
            if self.greedy:
                text += "…"
        else:
            text = f"{self.key}={self.kind.hint}"
        return text if self.required else f"[{text}]"


def arg(kind: Kind, doc: str, *, optional: bool = False, greedy: bool = False) -> Any:
    """A positional argument; ``optional`` ones default to None."""
    meta = {_META: ("arg", kind, doc, None, greedy)}
    if optional:
        return dataclasses.field(default=None, metadata=meta)
    return dataclasses.field(metadata=meta)


def opt(kind: Kind, doc: str, *, default: Any = dataclasses.MISSING, key: str | None = None) -> Any:
    """A ``key=value`` option; without a default it is required."""
    meta = {_META: ("opt", kind, doc, key, False)}
    return dataclasses.field(default=default, metadata=meta)


def params_of(model: type) -> tuple[Param, ...]:
    params = []
    for field in dataclasses.fields(model):
        role, kind, help_text, key, greedy = field.metadata[_META]
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        params.append(
            Param(
                field=field.name,
                key=key or field.name.rstrip("_"),
                kind=kind,
                help=help_text,
                positional=role == "arg",
                required=required,
                greedy=greedy,
            )
        )
    return tuple(params)
