"""Replies: m.notice, both bodies, explicit mentions, and the org.dsx.reply block."""

from __future__ import annotations

import json

from partner_bots.commands import CommandError, Outcome, Reply
from partner_bots.render import REPLY_KEY, reply_content


def test_success_reply_shape():
    reply = Reply.success("vet", Outcome("Accepted.", ("path: A → B",), ("@a:x.org",)))
    content = reply_content(reply, mention=["@s:x.org"])
    assert content["msgtype"] == "m.notice"
    assert content["format"] == "org.matrix.custom.html"
    assert content["body"] == "Accepted.\npath: A → B"
    assert "<li>path: A → B</li>" in content["formatted_body"]
    assert content["m.mentions"] == {"user_ids": ["@s:x.org", "@a:x.org"]}
    assert content[REPLY_KEY] == {"command": "vet", "ok": True}


def test_mentions_always_present():
    content = reply_content(Reply.success("status", Outcome("Nothing open.")))
    assert content["m.mentions"] == {"user_ids": []}


def test_error_reply_has_code_message_and_example():
    error = CommandError("bad_value", "capacity must be 1-50.", "!dsx provider add @m:x.org ...")
    content = reply_content(Reply.failure("provider add", error))
    block = content[REPLY_KEY]
    assert block == {
        "command": "provider add",
        "ok": False,
        "error": {"code": "bad_value", "message": "capacity must be 1-50."},
    }
    assert "bad_value" in content["body"] and "Example: !dsx provider add" in content["body"]
    assert "<code>!dsx provider add @m:x.org ...</code>" in content["formatted_body"]


def test_hostile_outcome_text_is_escaped_and_capped():
    evil = "<img src=x onerror=alert(1)>\u202eevil\x00" + "A" * 10_000
    reply = Reply.success("status", Outcome(evil, (evil,) * 200, ()))
    content = reply_content(reply)
    html = content["formatted_body"]
    assert "<img" not in html and "&lt;img" in html
    assert "\u202e" not in json.dumps(content, ensure_ascii=False)
    assert "\x00" not in content["body"]
    assert len(content["body"]) < 60_000 and len(json.dumps(content)) < 65_536
    items = content["formatted_body"].count("<li>")
    assert 1 < items < 200 and content["formatted_body"].endswith("<li>…</li></ul>")


def test_many_short_lines_are_counted():
    reply = Reply.success("help", Outcome("x", tuple(f"line {i}" for i in range(100))))
    html = reply_content(reply)["formatted_body"]
    assert html.count("<li>") == 61 and "line 59" in html and "line 60" not in html


def test_oversized_content_falls_back_but_stays_valid():
    from partner_bots.render import notice
    from partner_bots.render.notice import MAX_CONTENT_BYTES, content_bytes

    content = notice("漢" * 30_000, "<p>" + "&lt;" * 30_000 + "</p>")
    assert content_bytes(content) <= MAX_CONTENT_BYTES
    assert content["body"].endswith("…") and "<" not in content["formatted_body"]


def test_reply_event_threads_and_mentions_the_sender():
    from partner_bots.render import reply_event

    reply = Reply.success("approve", Outcome("Approved."))
    content = reply_event(reply, sender="@ana:x.org", event_id="$cmd", thread_root="$root")
    assert content["m.mentions"] == {"user_ids": ["@ana:x.org"]}
    assert content["m.relates_to"]["rel_type"] == "m.thread"
    assert content["m.relates_to"]["m.in_reply_to"] == {"event_id": "$cmd"}
    flat = reply_event(reply, sender="@ana:x.org", event_id="$cmd")
    assert flat["m.relates_to"] == {"m.in_reply_to": {"event_id": "$cmd"}}
