"""Pure checks of what the bot hands on and what it sends (no server needed)."""

from __future__ import annotations

import pytest
from nio import Event

from partner_bots.events import IncomingMessage, IncomingReaction, IncomingRedaction, to_incoming
from partner_bots.raw_api import retry_after_seconds
from partner_bots.render import as_reply, edit, in_thread, mentions, notice, reaction

ME, YOU, ROOM = "@bot:x", "@you:x", "!r:x"


def _event(etype: str, content: dict, sender: str = YOU, **extra) -> Event:
    return Event.parse_event(
        {
            "type": etype,
            "event_id": "$e",
            "sender": sender,
            "origin_server_ts": 5,
            "content": content,
            **extra,
        }
    )


def test_commands_are_handed_on_with_thread_and_reply():
    msg = to_incoming(
        ROOM,
        _event(
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": "!dsx status",
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": "$root",
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": "$latest"},
                },
            },
        ),
        ME,
    )
    assert isinstance(msg, IncomingMessage)
    assert (msg.body, msg.thread_root, msg.reply_to, msg.server_ts) == (
        "!dsx status",
        "$root",
        None,  # a thread fallback is not a real reply
        5,
    )


@pytest.mark.parametrize(
    ("etype", "content", "sender"),
    [
        ("m.room.message", {"msgtype": "m.notice", "body": "a bot talking"}, YOU),
        ("m.room.message", {"msgtype": "m.text", "body": "myself"}, ME),
        (  # an "edit" with no new content, or new content without the relation
            "m.room.message",
            {"msgtype": "m.text", "body": "* x", "m.relates_to": {"rel_type": "m.replace"}},
            YOU,
        ),
        (
            "m.room.message",
            {"msgtype": "m.text", "body": "* x", "m.new_content": {"body": "x"}},
            YOU,
        ),
        (  # an edit into a notice is still a notice
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": "* x",
                "m.new_content": {"msgtype": "m.notice", "body": "x"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$o"},
            },
            YOU,
        ),
        ("m.room.topic", {"topic": "t"}, YOU),
    ],
)
def test_never_answered(etype, content, sender):
    assert to_incoming(ROOM, _event(etype, content, sender), ME) is None


def test_an_edit_reads_as_its_new_content_and_names_the_original():
    """Whether it runs is the workflow's decision (tests/workflow/test_edits.py)."""
    msg = to_incoming(
        ROOM,
        _event(
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": "* !dsx status R-1",
                "m.new_content": {"msgtype": "m.text", "body": "!dsx status R-1"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$o"},
            },
        ),
        ME,
    )
    assert isinstance(msg, IncomingMessage)
    assert (msg.body, msg.replaces, msg.thread_root) == ("!dsx status R-1", "$o", None)
    assert "m.new_content" not in msg.content


def test_reactions_and_redactions():
    r = to_incoming(ROOM, _event("m.reaction", reaction("$p", "✅")), ME)
    assert isinstance(r, IncomingReaction) and (r.reacts_to, r.key) == ("$p", "✅")
    assert not r.encrypted
    red = to_incoming(ROOM, _event("m.room.redaction", {}, redacts="$r1"), ME)
    assert isinstance(red, IncomingRedaction) and red.redacts == "$r1"
    # Room v11+: ``redacts`` lives in the content.
    red11 = to_incoming(ROOM, _event("m.room.redaction", {"redacts": "$r2"}, redacts="$r2"), ME)
    assert isinstance(red11, IncomingRedaction) and red11.redacts == "$r2"


def test_content_builders():
    n = notice("hi", "<b>hi</b>", [YOU, YOU])
    assert n["msgtype"] == "m.notice" and n["m.mentions"] == {"user_ids": [YOU]}
    assert n["format"] == "org.matrix.custom.html" and n["formatted_body"] == "<b>hi</b>"
    assert notice("x")["m.mentions"] == {"user_ids": []}  # explicit even when empty
    assert mentions(room=True)["room"] is True
    t = in_thread(n, "$root")
    assert t["m.relates_to"]["m.in_reply_to"] == {"event_id": "$root"}
    r = as_reply(t, "$q")
    assert r["m.relates_to"]["rel_type"] == "m.thread"
    assert r["m.relates_to"]["m.in_reply_to"] == {"event_id": "$q"}
    assert "is_falling_back" not in r["m.relates_to"]
    e = edit("$orig", t)
    assert e["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}
    assert "m.relates_to" not in e["m.new_content"] and e["m.mentions"] == {}
    assert e["body"] == "* hi" and e["formatted_body"] == "* <b>hi</b>"


def test_retry_after_header_wins_over_body():
    assert retry_after_seconds("3", {"retry_after_ms": 500}) == 3.0
    assert retry_after_seconds(None, {"retry_after_ms": 1500}) == 1.5
    assert retry_after_seconds("soon", {}) is None


def test_bot_from_config(tmp_path):
    from coordinator.config import parse
    from partner_bots.bot import bot_from_config
    from partner_bots.device_trust import DevicePolicy
    from partner_bots.session import SessionError

    doc = {
        "data_dir": str(tmp_path),
        "matrix": {
            "user_id": "@bot:x",
            "password": "pw",
            "pickle_key": "p" * 20,
            "device_policy": "cross-signed",
            "undecryptable_grace_seconds": 7,
        },
    }

    class Reg:
        async def is_registered(self, room_id: str) -> bool:
            return False

    async def sink(event) -> None:
        return None

    bot = bot_from_config(parse(doc, "t"), Reg(), sink)
    assert bot.session.account.device_id == "DSXCOORDINATOR"
    assert bot.session.account.store_path == tmp_path / "nio-store"
    assert bot.trust.policy is DevicePolicy.CROSS_SIGNED and bot._grace == 7
    del doc["matrix"]["pickle_key"]
    with pytest.raises(SessionError):
        bot_from_config(parse(doc, "t"), Reg(), sink)


def test_a_decrypted_event_keeps_its_session_and_a_plaintext_one_has_none():
    """The origin is how the bot finds the sending device; plaintext has no device."""
    from partner_bots.events import Origin

    plain = _event("m.room.message", {"msgtype": "m.text", "body": "!dsx approve p-1"})
    assert to_incoming(ROOM, plain, ME).origin is None
    assert not to_incoming(ROOM, plain, ME).encrypted
    for event in (
        _event("m.room.message", {"msgtype": "m.text", "body": "!dsx approve p-1"}),
        _event("m.reaction", reaction("$p", "✅")),
    ):
        event.decrypted, event.sender_key, event.session_id = True, "curve", "sess"
        got = to_incoming(ROOM, event, ME)
        assert got.encrypted and got.origin == Origin("curve", "sess")
