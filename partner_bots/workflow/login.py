"""Staff sign-in links minted at send time, so no usable token is ever stored, and sent
only to the staff member who asked.

``!dsx login`` is answered through the outbox like every reply, and outbox rows are
plain database rows. Were the link in the row, anyone who could read the database
could sign in as staff within the link's lifetime. So the reply holds a placeholder,
and the delivery process, right before sending the reply, mints the link and sends it
into the staff member's direct encrypted room with the bot (workflow/direct.py): every
member of the shared staff room can read the staff room, so the reply posted there only
says that a link was sent. A resend after a crash mints another link; the Matrix
transaction id still makes each message appear once, and the unused link expires unseen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from html import escape
from typing import Any

from partner_bots.render.notice import notice
from partner_bots.render.reply import REPLY_KEY

# What the reply carries instead of the link. The login command takes no arguments, so
# no text a user typed can end up in the same reply.
PLACEHOLDER = "[sign-in link: created when this message is sent]"
COMMAND = "login"
SUMMARY = "Sent you a sign-in link in your direct room with me."
# What replaces the placeholder in the staff room once the link went to the direct room.
SENT = "It works once, for {lifetime}; ask again with !dsx login."
LINK_KEY = "org.dsx.login"  # marks the direct message (no link in it, only the kind)

MintLink = Callable[[str], Awaitable[str]]


def wants_link(content: Mapping[str, Any]) -> str | None:
    """The staff member a queued reply should get a fresh link for, or None."""
    block = content.get(REPLY_KEY)
    if not isinstance(block, Mapping) or block.get("command") != COMMAND or not block.get("ok"):
        return None
    if PLACEHOLDER not in str(content.get("body", "")):
        return None
    mentioned = content.get("m.mentions", {}).get("user_ids", [])
    return mentioned[0] if mentioned else None


def with_link(content: Mapping[str, Any], text: str) -> dict[str, Any]:
    """The reply with the placeholder replaced by ``text`` (plain and HTML bodies): the
    link, or why there is none (dashboard stopped, no longer staff)."""
    out = dict(content)
    for key in ("body", "formatted_body"):
        if isinstance(out.get(key), str):
            out[key] = out[key].replace(PLACEHOLDER, text)
    return out


def lifetime(minutes: int | None) -> str:
    """The link's real lifetime, from the dashboard's settings (``login_link_minutes``)."""
    if minutes is None:
        return "a short time"
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def sent(minutes: int | None) -> str:
    return SENT.format(lifetime=lifetime(minutes))


def link_message(link: str, minutes: int | None = None) -> dict[str, Any]:
    """The direct message that carries the link (never queued: built at send time), with
    the link clickable in the HTML body."""
    intro = f"Your one-time sign-in link for the DSX dashboard (valid {lifetime(minutes)})"
    html = f'{escape(intro)}: <a href="{escape(link)}">{escape(link)}</a>'
    return notice(f"{intro}: {link}", html, extra={LINK_KEY: {"kind": "link"}})
