"""The guides stay true to the code: every command and CLI flag they name exists."""

from __future__ import annotations

import re
from pathlib import Path

from dsx.cli.main import build_parser
from dsx.demo.reference import block_of, render
from partner_bots.commands import REGISTRY

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_partner_guide_reference_is_generated_from_the_registry():
    text = (DOCS / "partner.md").read_text("utf-8")
    assert block_of(text) == render(), "run: python -m dsx.demo.reference docs/partner.md"


def test_partner_guide_has_every_command_and_its_answer():
    text = (DOCS / "partner.md").read_text("utf-8")
    for spec in REGISTRY:
        assert f"#### `!dsx {spec.name}`" in text, spec.name
        assert spec.example in text, spec.name
        assert f"| `{spec.name}` |" in text, f"no answer described for {spec.name}"


def _subcommands() -> dict[str, set[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    flags = {}
    for name, p in sub.choices.items():
        flags[name] = {o for a in p._actions for o in a.option_strings}
    return flags


def test_every_dsx_command_line_in_the_guides_parses():
    known = _subcommands()
    for guide in ("operator.md", "staff.md", "partner.md"):
        text = (DOCS / guide).read_text("utf-8")
        for match in re.finditer(r"(?<![!\w/.-])dsx ([a-z]+)((?: --?[a-z-]+)*)", text):
            command, flags = match.group(1), match.group(2).split()
            if command in {"coordinator", "help"}:
                continue
            assert command in known, f"{guide}: dsx {command}"
            for flag in flags:
                assert flag in known[command], f"{guide}: dsx {command} {flag}"


def test_room_commands_in_the_guides_exist():
    for guide in ("operator.md", "staff.md", "partner.md"):
        text = (DOCS / guide).read_text("utf-8")
        for match in re.finditer(r"!dsx ([a-z]+(?: [a-z]+)?)", text):
            words = match.group(1).split()
            assert REGISTRY.match(words) is not None, f"{guide}: !dsx {match.group(1)}"


def test_partner_guide_says_staff_do_not_speak_in_a_partners_name():
    """The commands the core refuses staff (they speak in a partner's name) are not
    offered to staff in the guide; the others say staff may use them."""
    from partner_bots.commands import Audience

    text = (DOCS / "partner.md").read_text("utf-8")
    for spec in REGISTRY:
        section = text.split(f"#### `!dsx {spec.name}`", 1)[1].split("####", 1)[0]
        who = next(line for line in section.splitlines() if line.startswith("Who may use it"))
        if spec.audience is Audience.PARTNER:
            assert "staff" not in who, spec.name
        elif spec.audience is Audience.CASEWORK:
            assert "staff" in who, spec.name
