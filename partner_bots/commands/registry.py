"""The command table: each command module declares its command (``@command``: typed
arguments, help, body and reply), and a ``Registry`` collects them, so ``!dsx help`` is
generated and cannot disagree with what the parser accepts."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from partner_bots.commands.address import PREFIX
from partner_bots.commands.spec import Audience, Param, params_of


@dataclass(frozen=True)
class CommandSpec:
    name: str  # one or more lower-case words: "org add"
    audience: Audience
    summary: str
    example: str
    model: type
    params: tuple[Param, ...]
    # False for commands that only read: those may be answered from any device of a
    # member; every other command counts only from a device that meets the device policy.
    changes_state: bool = True

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.name.split())

    @property
    def syntax(self) -> str:
        return " ".join([PREFIX, self.name, *(param.syntax for param in self.params)])

    def option(self, key: str) -> Param | None:
        return next((p for p in self.params if p.key == key), None)

    @property
    def positionals(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.positional)


def command(
    name: str,
    audience: Audience,
    *,
    summary: str,
    example: str,
    changes_state: bool = True,
) -> Callable[[type], type]:
    """Class decorator for a command: a frozen dataclass of typed arguments (``spec.arg``,
    ``spec.opt``) with an async ``run(ctx)``. It declares; a ``Registry`` collects."""

    def declare(model: type) -> type:
        key = " ".join(name.lower().split())
        if not callable(getattr(model, "run", None)):
            raise TypeError(f"command {key!r} has no run method")
        model.spec = CommandSpec(  # type: ignore[attr-defined]
            key, audience, summary, example, model, params_of(model), changes_state
        )
        return model

    return declare


class Registry:
    """Commands by name. Lookup is by the longest matching run of leading words."""

    def __init__(self, models: Iterable[type] = ()) -> None:
        self._specs: dict[str, CommandSpec] = {}
        for model in models:
            self.add(model)

    def add(self, model: type) -> CommandSpec:
        spec = getattr(model, "spec", None)
        if not isinstance(spec, CommandSpec) or spec.model is not model:
            raise TypeError(f"{model.__name__} is not declared with @command")
        if spec.name in self._specs:
            raise ValueError(f"command {spec.name!r} declared twice")
        self._specs[spec.name] = spec
        return spec

    @classmethod
    def discover(cls, *packages: str) -> Registry:
        """Every command declared in the modules of ``packages``, package by package and
        module by module in name order: a new command is a new module, nothing else."""
        models = []
        for package in packages:
            found = importlib.import_module(package)
            for info in sorted(pkgutil.iter_modules(found.__path__), key=lambda m: m.name):
                module = importlib.import_module(f"{package}.{info.name}")
                models += [
                    value
                    for value in vars(module).values()
                    if isinstance(value, type)
                    and value.__module__ == module.__name__
                    and isinstance(getattr(value, "spec", None), CommandSpec)
                ]
        return cls(models)

    def __iter__(self) -> Iterator[CommandSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(" ".join(name.lower().split()))

    def match(self, words: list[str]) -> tuple[CommandSpec, int] | None:
        """The command named by the first words, and how many words its name used."""
        lowered = [word.lower() for word in words[:3]]
        for size in (3, 2, 1):
            spec = self._specs.get(" ".join(lowered[:size])) if len(lowered) >= size else None
            if spec is not None:
                return spec, size
        return None

    def names(self) -> list[str]:
        return list(self._specs)

    def group_names(self) -> set[str]:
        """First words of multi-word commands ("org" for "org add")."""
        return {spec.words[0] for spec in self if len(spec.words) > 1}

    def by_audience(self) -> dict[Audience, list[CommandSpec]]:
        groups: dict[Audience, list[CommandSpec]] = {audience: [] for audience in Audience}
        for spec in self:
            groups[spec.audience].append(spec)
        return groups


def help_lines(spec: CommandSpec) -> tuple[str, ...]:
    """Syntax, who may use it, what each argument is, and an example."""
    lines = [spec.syntax, spec.summary, f"Who may use it: {spec.audience.description}."]
    lines += [f"{param.syntax}: {param.help}" for param in spec.params]
    lines.append(f"Example: {spec.example}")
    return tuple(lines)


def model_spec(command: Any) -> CommandSpec:
    return type(command).spec
