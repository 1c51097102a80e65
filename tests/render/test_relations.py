"""Threads, replies, edits and reactions follow the Matrix spec's shapes."""

from __future__ import annotations

import pytest

from partner_bots.render import (
    APPROVE_KEY,
    Vote,
    as_reply,
    edit,
    in_thread,
    notice,
    reaction,
    reply_to_command,
    vote_of,
)


def base():
    return notice("hi", "<p>hi</p>", mention=["@a:x.org"], extra={"org.dsx.reply": {"ok": True}})


def test_thread_with_fallback():
    content = in_thread(base(), "$root", "$latest")
    assert content["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$latest"},
    }
    assert "m.relates_to" not in base()  # the input is not modified


def test_reply_in_thread_and_plain_reply():
    threaded = reply_to_command(base(), "$cmd", "$root")
    assert threaded["m.relates_to"]["is_falling_back"] is False
    assert threaded["m.relates_to"]["m.in_reply_to"] == {"event_id": "$cmd"}
    assert reply_to_command(base(), "$cmd")["m.relates_to"] == {
        "m.in_reply_to": {"event_id": "$cmd"}
    }
    assert as_reply(base(), "$e")["body"] == "hi"


def test_edit_replaces_without_pinging():
    new = in_thread(base(), "$root")
    content = edit("$orig", new)
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}
    assert content["body"] == "* hi" and content["formatted_body"] == "* <p>hi</p>"
    assert content["m.mentions"] == {}
    assert "m.relates_to" not in content["m.new_content"]
    assert content["m.new_content"]["m.mentions"] == {"user_ids": ["@a:x.org"]}
    assert content["m.new_content"]["org.dsx.reply"] == {"ok": True}


def test_reactions():
    assert reaction("$p", APPROVE_KEY) == {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": "$p", "key": "✅"}
    }
    assert vote_of("\u2705") is Vote.APPROVE and vote_of("\u2705\ufe0f") is Vote.APPROVE
    assert vote_of("\u274c") is Vote.DECLINE and vote_of("\u274c\ufe0f") is Vote.DECLINE
    assert vote_of("🎉") is None and vote_of("") is None


@pytest.mark.parametrize(
    "key",
    [
        "👍",  # thumbs up
        "👍🏽",
        "\u2714",  # ✔ heavy check mark
        "\u2714\ufe0f",
        "\u2611",  # ☑ ballot box with check
        "\u2611\ufe0f",
        "\u2713",  # ✓ check mark
        "👎",
        "\u2716",  # ✖
        "\u274e",  # ❎
        "\u2705\ufe0e",  # ✅ forced to text presentation: not what the proposal offers
        "\u2705\ufe0f\ufe0f",
        "\ufe0f\u2705",
        "\u2705\u2705",
        "\u2705 ",
        "approve",
        "\ufe0f",
    ],
)
def test_only_the_proposals_own_keys_vote(key: str):
    assert vote_of(key) is None
