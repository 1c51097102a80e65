"""Organizations' names, opened only where they may be read.

The core knows an organization by its opaque id (``o-…``); its name is sealed. A message
that may show the name carries the ids to name in a block (``NAMES_KEY``) and the id in
its text; delivery, the only holder of the private key, opens each name right before the
send and writes it beside the id, and only when the message goes to a room that may see
it: a room of the organization's own partner, or an engagement room of one of its
requests. The name lives in memory for the send; the outbox row keeps the id only.

A partner may also type an organization's name in a command (``!dsx request "Legal Aid
Society" …``): ``resolve`` finds which of that partner's organizations it names, by
opening their names, so the core is only ever handed the id.
"""

from __future__ import annotations

import html
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.domain import MembershipStatus
from coordinator.logs import get_logger
from coordinator.sealing import Opener, SealingError
from coordinator.store.outbox import PARTNER_ROOM
from coordinator.store.schema import engagements, members, organizations, partners, requests
from coordinator.store.sealed import ORG_SCOPE, ORGANIZATION_PREFIX, open_values
from coordinator.usecases.messages import CASE_KEY, NAMES_KEY, naming

log = get_logger(__name__)

ENGAGEMENT_ROOM = "engagement:"
INDENT = "\n    "  # as in workflow/intake.py
__all__ = ["CASE_KEY", "NAMES_KEY", "OrganizationNames", "naming"]
SHOWN = (("contact", "Contact"), ("note", "About the organization"))


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


class OrganizationNames:
    """Opens organizations' sealed names (needs the private key; None: names stay ids)."""

    def __init__(self, engine: AsyncEngine, opener: Opener | None):
        self.engine = engine
        self.opener = opener

    async def name_of(self, organization: str) -> str | None:
        if self.opener is None:
            return None
        try:
            values = await open_values(self.engine, self.opener, organization, ORG_SCOPE)
        except SealingError:
            log.warning("names.not_opened")
            return None
        return values.get("name")

    async def resolve(self, partner: str, text: str) -> str:
        """The id of ``partner``'s organization named ``text``; ``text`` itself when it is
        an id, a Matrix user, or names none of them (the core then answers as it would)."""
        if self.opener is None or text.startswith(("@", ORGANIZATION_PREFIX)):
            return text
        async with self.engine.connect() as conn:
            ids = (
                await conn.execute(
                    sa.select(organizations.c.id)
                    .join(members, members.c.id == organizations.c.id)
                    .where(
                        organizations.c.partner == partner,
                        members.c.status != MembershipStatus.REMOVED.value,
                    )
                    .order_by(organizations.c.id)
                )
            ).scalars()
            found = list(ids)
        wanted = _fold(text)
        for organization in found:
            name = await self.name_of(organization)
            if name is not None and _fold(name) == wanted:
                return organization
        return text

    async def _engaged(self, room: str, organization: str, request: str) -> bool:
        """Whether ``room`` is the engagement room of ``request``, a case of ``organization``."""
        if not room.startswith(ENGAGEMENT_ROOM):
            return False
        async with self.engine.connect() as conn:
            found = await conn.execute(
                sa.select(engagements.c.id)
                .join(requests, requests.c.id == engagements.c.request)
                .where(
                    engagements.c.id == room[len(ENGAGEMENT_ROOM) :],
                    engagements.c.request == request,
                    requests.c.organization == organization,
                )
            )
            return found.first() is not None

    async def _case_lines(self, room: str, block: Any) -> list[tuple[str, str]]:
        """The case's contact and notes, opened, when ``room`` is its engagement room."""
        if self.opener is None or not isinstance(block, dict):
            return []
        organization, request = str(block.get("organization")), str(block.get("request"))
        if not await self._engaged(room, organization, request):
            return []
        try:
            org = await open_values(self.engine, self.opener, organization, ORG_SCOPE)
            case = await open_values(self.engine, self.opener, organization, request)
        except SealingError:
            log.warning("names.case_not_opened")
            return []
        lines = [(label, org[field]) for field, label in SHOWN if org.get(field)]
        if case.get("note"):
            lines.append(("The request", case["note"]))
        return lines

    async def may_see(self, room: str, organization: str) -> bool:
        """Whether a message to ``room`` (an outbox address) may show the name: a room of
        the organization's partner, or an engagement room of one of its requests."""
        async with self.engine.connect() as conn:
            partner = (
                await conn.execute(
                    sa.select(organizations.c.partner).where(organizations.c.id == organization)
                )
            ).scalar_one_or_none()
            if partner is None:
                return False
            if room.startswith(ENGAGEMENT_ROOM):
                found = await conn.execute(
                    sa.select(engagements.c.id)
                    .join(requests, requests.c.id == engagements.c.request)
                    .where(
                        engagements.c.id == room[len(ENGAGEMENT_ROOM) :],
                        requests.c.organization == organization,
                    )
                )
                return found.first() is not None
            if room == PARTNER_ROOM + partner:
                return True
            rooms = (
                await conn.execute(sa.select(partners.c.rooms).where(partners.c.handle == partner))
            ).scalar_one_or_none()
            return room in (rooms or [])

    async def opened(self, room: str, content: dict[str, Any]) -> dict[str, Any]:
        """``content`` as sent to ``room``: each named id followed by its name where the
        room may see it; the block itself is never sent."""
        ids = content.get(NAMES_KEY)
        lines = await self._case_lines(room, content.get(CASE_KEY))
        content = {k: v for k, v in content.items() if k not in (NAMES_KEY, CASE_KEY)}
        if lines:
            content = _with_lines(content, lines)
        if not isinstance(ids, list):
            return content
        for organization in ids:
            if not isinstance(organization, str) or not await self.may_see(room, organization):
                continue
            name = await self.name_of(organization)
            if not name:
                continue
            content = _with_name(content, organization, name)
        return content


def _with_lines(content: dict[str, Any], lines: list[tuple[str, str]]) -> dict[str, Any]:
    """Opened case details after the text; typed text is escaped in the HTML and indented
    under its label in the plain body, so it never passes for a line of its own."""
    shown = dict(content)
    body = "\n".join(f"{label}: {value.replace(chr(10), INDENT)}" for label, value in lines)
    items = "".join(
        f"<li><strong>{html.escape(label)}</strong>: "
        f"{html.escape(value).replace(chr(10), '<br>')}</li>"
        for label, value in lines
    )
    shown["body"] = f"{shown.get('body', '')}\n{body}"
    if isinstance(shown.get("formatted_body"), str):
        shown["formatted_body"] = f"{shown['formatted_body']}<ul>{items}</ul>"
    return shown


def _with_name(content: dict[str, Any], organization: str, name: str) -> dict[str, Any]:
    shown = dict(content)
    if isinstance(shown.get("body"), str):
        shown["body"] = shown["body"].replace(organization, f"{name} ({organization})")
    if isinstance(shown.get("formatted_body"), str):
        shown["formatted_body"] = shown["formatted_body"].replace(
            organization, f"{html.escape(name)} ({organization})"
        )
    new = shown.get("m.new_content")
    if isinstance(new, dict):
        shown["m.new_content"] = _with_name(new, organization, name)
    return shown
