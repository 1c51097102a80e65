"""Public-form values are cleaned like room input: no bidi override, no invisible
character, no line break inside a one-line field, so a submitter cannot fake a field's
line in the partner room where the details are delivered."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.forms import REQUEST_FORM, FormKind, Widget, validate
from coordinator.sealing import Opener
from coordinator.store.schema import sealed
from coordinator.store.sealed import INTAKE_ROUTED_TO, binding_of
from coordinator.text import BIDI_CONTROLS, INVISIBLES
from partner_bots.workflow.intake import render
from tests.web.forms_data import full_form

FAKE_LINE = "Email: forged@attacker.example"
CRAFTED = {
    "name": f"Ann\nMarie\r\n{FAKE_LINE}",
    "title": f"Lead\u2028{FAKE_LINE}",
    "organization": "Acme\u202e gnikcah\u202c Co\u200b\u200d",
    "heard": f"friend\u2029{FAKE_LINE}\rSignal: +1 555 000",
    "signal": "ann\u2066.\u206942\x00\x1b",
    "need": "line one\u202e\r\nline two\u200b\n\n\nline three\x07",
}
UNSAFE = set(BIDI_CONTROLS) | set(INVISIBLES) | {"\x00", "\x1b", "\x07", "\r"}


def test_one_line_fields_keep_no_line_break_or_hidden_character():
    result = validate(REQUEST_FORM, dict(full_form(REQUEST_FORM, **CRAFTED)))
    assert result.ok, result.errors
    sub = result.submission
    assert sub.text("name") == f"Ann Marie {FAKE_LINE}"
    assert sub.text("title") == f"Lead {FAKE_LINE}"
    assert sub.text("organization") == "Acme gnikcah Co"
    assert sub.text("heard") == f"friend {FAKE_LINE} Signal: +1 555 000"
    assert sub.text("signal") == "ann.42"
    # A text area keeps its line breaks (tidied), never the hidden characters.
    assert sub.text("need") == "line one\nline two\n\n\nline three"
    for spec in REQUEST_FORM.fields:
        value = sub.text(spec.name)
        assert not UNSAFE & set(value), spec.name
        assert not {"\u2028", "\u2029"} & set(value), spec.name
        if spec.widget is not Widget.TEXTAREA:
            assert "\n" not in value, spec.name


def test_cleaning_never_cuts_a_value_that_is_too_long():
    long_name = "\u200b".join("x" * 201)  # 201 letters once the invisibles are gone
    result = validate(REQUEST_FORM, dict(full_form(REQUEST_FORM, name=long_name)))
    assert "under 200" in result.errors["name"]
    assert result.submission.text("name") == "x" * 201


async def test_crafted_values_cannot_fake_a_field_line_in_the_partner_room(web):
    token = await web.csrf("/request")
    pairs = full_form(REQUEST_FORM, **CRAFTED)
    resp = await web.client.post("/request", data=[("csrf_token", token), *pairs])
    assert resp.status == 200, await resp.text()
    async with web.coord.engine.connect() as conn:
        rows = (await conn.execute(sa.select(sealed))).all()
    opener = Opener([web.keys])
    fields = {r.field: opener.open_text(r.blob, binding_of(r)) for r in rows}
    fields.pop(INTAKE_ROUTED_TO)  # where it may be opened, not a field (delivery drops it)
    assert fields["name"] == f"Ann Marie {FAKE_LINE}"
    # What the partner room receives (partner_bots renders the delivered notice): one line
    # per one-line field, each starting with its own label; the forged "Email:" text sits
    # inside the name's and the role's lines, never on a line of its own.
    body = render("c-0123456789", FormKind.REQUEST, fields)["body"]
    lines = body.split("\n")[1:]
    need_lines = fields["need"].count("\n") + 1
    one_line = [f for f in REQUEST_FORM.fields if fields.get(f.name) and f.name != "need"]
    assert len(lines) == len(one_line) + need_lines
    assert not any(line.startswith(FAKE_LINE) for line in lines)
    assert not any(line.startswith("Signal: +1 555 000") for line in lines)
    assert not UNSAFE & set(body)


def test_a_multi_line_answer_cannot_fake_a_field_line_either():
    """A text area keeps its line breaks, but each continuation line is indented under its
    label in the partner room's plain text, so "Email: …" typed inside it stays inside."""
    forged = "Our phones were seized.\nEmail: attacker@example.org\nSignal: +1 555 0000"
    body = render("c-0123456789", FormKind.REQUEST, {"need": forged, "email": "a@b.example"})[
        "body"
    ]
    lines = body.split("\n")[1:]
    starts = [line.split(":", 1)[0] for line in lines if not line.startswith(" ")]
    assert starts.count("Email") == 1  # the real field only
    assert "Signal" not in starts
    assert "    Email: attacker@example.org" in lines
