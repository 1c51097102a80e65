"""Engagement rooms: created exactly once, and the outbox's logical room names resolved.

The core queues a ``create_room`` row for ``engagement:<id>`` followed by the introduction.
The room gets a local alias derived from the engagement id, so creation is idempotent: a
retry after a crash (room created, row not yet marked sent) finds the alias taken and
resolves it instead of opening a second room. Invites go in the create call itself, and
encryption in its initial state. The ``org.dsx.engagement`` block of the notices names the
creation row (``outbox:<id>``); delivery puts the Matrix room id in its place, so those
notices wait until the room exists.

``partner:<handle>`` (a message for a partner that no request ties to a room) resolves to
the partner's first encrypted room (``PartnerRooms``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from nio import MatrixRoom, RoomCreateError, RoomCreateResponse, RoomResolveAliasResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.logs import get_logger
from coordinator.store.outbox import OUTBOX_REF, PARTNER_ROOM
from partner_bots.delivery import Delivery, Outgoing, RoomResolver, references
from partner_bots.sending import SendError
from partner_bots.session import BotSession
from partner_bots.workflow import login, posted
from partner_bots.workflow.intake import (
    INTAKE_DETAILS,
    INTAKE_ROOM,
    NO_KEY,
    NOTICE_WAIT_S,
    OPERATOR_RETRY_S,
    WAITING_NOTICE,
    IntakeDetails,
    IntakeRooms,
    Refusal,
)
from partner_bots.workflow.names import NAMES_KEY, OrganizationNames

log = get_logger(__name__)

ENGAGEMENT = "engagement:"
ALIAS_PREFIX = "dsx-engagement-"
ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
HISTORY_FROM_INVITE = {
    "type": "m.room.history_visibility",
    "state_key": "",
    "content": {"history_visibility": "invited"},
}
CREATE_ROOM = "create_room"
ENGAGEMENT_KEY = "org.dsx.engagement"
SYNC_WAIT_S = 30.0
NO_ENCRYPTED_ROOM = "partner_no_encrypted_room"
# A partner without an encrypted room (not joined yet, or misconfigured): look again every
# few minutes, so the row is given up on (and staff told) only after about an hour.
NO_ROOM_RETRY_S = 300.0


class PartnerDirectory(Protocol):
    async def partners(self) -> list[Any]: ...  # each has ``.handle`` and ``.rooms``


class RoomView(Protocol):
    async def room(self, room_id: str) -> MatrixRoom | None: ...


class PartnerRooms:
    """A ``RoomResolver``: ``partner:<handle>`` is the partner's first encrypted room.

    Deterministic: the partner's registered rooms in sorted room-id order, the first one
    the account serving the partner has joined and knows (from synced room state) to be
    encrypted. An unencrypted room is never chosen; while there is none, None (the row
    waits). Every other address goes to ``inner``.
    """

    def __init__(self, inner: RoomResolver, directory: PartnerDirectory, view: RoomView):
        self.inner = inner
        self.directory = directory
        self.view = view

    async def resolve(self, room: str) -> str | None:
        if not room.startswith(PARTNER_ROOM):
            return await self.inner.resolve(room)
        handle = room[len(PARTNER_ROOM) :]
        partner = next((p for p in await self.directory.partners() if p.handle == handle), None)
        for room_id in sorted(partner.rooms if partner is not None else ()):
            joined = await self.view.room(room_id)
            if joined is not None and joined.encrypted:
                return room_id
        return None


class EngagementRoomMaker(RoomResolver, Protocol):
    """What delivery needs for engagement rooms: resolve one, or create it. One account's
    ``EngagementRooms``, or ``partner_bots.accounts.RoutedEngagementRooms`` choosing the
    account that serves each room."""

    async def create(self, logical: str, content: dict[str, Any]) -> str: ...


class EngagementRooms:
    """The ``RoomResolver`` for delivery, and the creator of engagement rooms."""

    def __init__(self, session: BotSession):
        self.session = session
        self._ids: dict[str, str] = {}
        self._engagements: dict[str, str] = {}

    def _local(self, logical: str) -> str:
        return ALIAS_PREFIX + logical[len(ENGAGEMENT) :].lower()

    def _alias(self, logical: str) -> str:
        server = self.session.user_id.split(":", 1)[1]
        return f"#{self._local(logical)}:{server}"

    def _remember(self, logical: str, room_id: str) -> str:
        self._ids[logical] = room_id
        self._engagements[room_id] = logical[len(ENGAGEMENT) :]
        return room_id

    def engagement_of_room(self, room_id: str) -> str | None:
        """The engagement a joined room is for (from its alias), or None."""
        if room_id in self._engagements:
            return self._engagements[room_id]
        room = self.session.client.rooms.get(room_id)
        alias = getattr(room, "canonical_alias", None) or ""
        local = alias[1:].split(":", 1)[0] if alias.startswith("#") else ""
        if local.startswith(ALIAS_PREFIX):
            return local[len(ALIAS_PREFIX) :]
        return None

    async def resolve(self, room: str) -> str | None:
        if room.startswith("!"):
            return room
        if not room.startswith(ENGAGEMENT):
            return None
        if room in self._ids:
            return self._ids[room]
        resp = await self.session.client.room_resolve_alias(self._alias(room))
        if isinstance(resp, RoomResolveAliasResponse):
            return self._remember(room, resp.room_id)
        return None

    async def create(self, logical: str, content: dict[str, Any]) -> str:
        """Create the room (or find the one a previous attempt created) and wait for sync."""
        existing = await self.resolve(logical)
        if existing is None:
            invite = [u for u in content.get("invite", []) if isinstance(u, str)]
            resp = await self.session.client.room_create(
                alias=self._local(logical),
                name=str(content.get("name", "DSX engagement")),
                invite=invite,
                initial_state=[ENCRYPTION, HISTORY_FROM_INVITE],
            )
            if isinstance(resp, RoomCreateResponse):
                existing = self._remember(logical, resp.room_id)
                log.info("engagement_room.created")
            elif isinstance(resp, RoomCreateError) and resp.status_code == "M_ROOM_IN_USE":
                existing = await self.resolve(logical)
            if existing is None:
                code = str(getattr(resp, "status_code", None) or "room_create_failed")
                raise SendError(code, 5.0)
        await self._synced(existing, [u for u in content.get("invite", []) if isinstance(u, str)])
        return existing

    async def _synced(self, room_id: str, invitees: list[str]) -> None:
        await members_known(self.session, room_id, invitees)


async def members_known(session: BotSession, room_id: str, invitees: list[str]) -> None:
    """Wait until nio knows the room, its invitees, and their devices.

    A room's first message is often sent while its other members are still only invited.
    Megolm keys go to the devices nio knows when the session is shared; a device learnt
    later only gets the key from that later index on, so it could never read that message.
    """
    client = session.client
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SYNC_WAIT_S

    def known() -> bool:
        room = client.rooms.get(room_id)
        return room is not None and all(u in room.users for u in invitees)

    while not known():
        if loop.time() > deadline:
            raise SendError("M_UNKNOWN_ROOM", 5.0)
        await asyncio.sleep(0.05)
    client.olm.update_tracked_users(client.rooms[room_id])
    async with session.crypto_lock:
        if client.should_query_keys:
            await client.keys_query()


class DirectRoomsPort(Protocol):
    async def room_for(self, staff: str) -> str: ...


class WorkflowDelivery(Delivery):
    """Delivery that also performs ``create_room`` rows (idempotently, see above) and
    opens ``intake_details`` rows into encrypted rooms only (workflow/intake.py)."""

    def __init__(
        self,
        sender: Any,
        outbox: Any,
        worker: str,
        *,
        engagement_rooms: EngagementRoomMaker,
        intake: IntakeDetails | None = None,
        partners: PartnerDirectory | None = None,
        engine: AsyncEngine | None = None,
        **kw: Any,
    ):
        rooms: RoomResolver = engagement_rooms
        if partners is not None:
            rooms = PartnerRooms(rooms, partners, sender)
        super().__init__(sender, outbox, worker, rooms=IntakeRooms(rooms), **kw)
        self.engagement_rooms = engagement_rooms
        self.intake = intake
        # Where proposals were delivered (``posted.record_delivery``); None: not recorded.
        self.engine = engine
        # Mints staff sign-in links at send time (workflow/login.py); set with the web app.
        self.login: login.MintLink | None = None
        # Each staff member's direct room, where the link goes (workflow/direct.py).
        self.direct: DirectRoomsPort | None = None
        # Opens organizations' names for the rooms that may read them (workflow/names.py).
        self.names: OrganizationNames | None = None

    async def _intake_refusal(self, message: Outgoing) -> Refusal | None:
        if self.intake is None:
            return Refusal(NO_KEY, OPERATOR_RETRY_S)
        if message.thread_of and await self.outbox.event_id_of(message.thread_of) is None:
            return Refusal(WAITING_NOTICE, NOTICE_WAIT_S)
        room_id = await self.rooms.resolve(message.room)
        return self.intake.refusal(None if room_id is None else await self.sender.room(room_id))

    def _references(self, message: Outgoing) -> tuple[str | None, ...]:
        return (*references(message), _engagement_room(message.content))

    async def _delivered(
        self, message: Outgoing, room_id: str, event_id: str, content: dict[str, Any]
    ) -> None:
        if self.engine is None or message.kind != "message" or message.edits is not None:
            return
        if posted.proposal_block(content) is None:
            return
        async with self.engine.begin() as conn:
            await posted.record_delivery(conn, message.id, message.room, room_id, event_id, content)

    async def _content(self, message: Outgoing) -> dict[str, Any]:
        if message.kind == INTAKE_DETAILS:  # never send the row's own (marker) content
            if self.intake is None:
                raise SendError(NO_KEY, OPERATOR_RETRY_S)
            return await self.intake.content(message)
        content = await super()._content(message)
        if self.names is not None:
            content = await self.names.opened(message.room, content)
        else:  # no key: ids only, and the request to name them is never sent
            content = {k: v for k, v in content.items() if k != NAMES_KEY}
        created = _engagement_room(content)
        if created is not None and message.kind != CREATE_ROOM:
            # The room the provider is invited to, by its Matrix id (waits until created).
            block = {**content[ENGAGEMENT_KEY], "room": await self._ref(created)}
            content = {**content, ENGAGEMENT_KEY: block}
        staff = login.wants_link(content)
        if staff is None:
            return content
        if self.login is None or self.direct is None:
            return login.with_link(content, "(the dashboard is not running)")
        room_id = await self.direct.room_for(staff)  # SendError: this reply waits too
        try:
            link = await self.login(staff)
        except PermissionError:  # no longer staff since they asked
            return login.with_link(content, "(you are no longer on the staff list)")
        # Its own transaction id: a resend after a crash posts the link message once.
        await self.sender.send(
            room_id, "m.room.message", login.link_message(link), tx_id=f"{message.id}-link"
        )
        return login.with_link(content, login.SENT)

    async def _deliver(self, message: Outgoing) -> bool:
        target = message.room
        if target.startswith(INTAKE_ROOM):
            target = target[len(INTAKE_ROOM) :]
        if target.startswith(PARTNER_ROOM) and await self.rooms.resolve(target) is None:
            # No encrypted room of the partner (yet): never a tight retry loop.
            await self.outbox.mark_failed(message.id, NO_ENCRYPTED_ROOM, NO_ROOM_RETRY_S)
            log.warning("delivery.no_encrypted_partner_room")
            return False
        if message.kind == INTAKE_DETAILS:
            refused = await self._intake_refusal(message)
            if refused is not None:
                # Checked before anything is opened; the Sender re-checks encryption.
                await self.outbox.mark_failed(message.id, refused.code, refused.retry_after)
                if refused.code != WAITING_NOTICE:
                    log.warning("intake.details_refused", code=refused.code)
                return False
        if message.kind != CREATE_ROOM:
            return await super()._deliver(message)
        try:
            room_id = await self.engagement_rooms.create(message.room, dict(message.content))
        except SendError as exc:
            await self.outbox.mark_failed(message.id, exc.code, exc.retry_after or 5.0)
            log.warning("engagement_room.failed", code=exc.code)
            return False
        await self.outbox.mark_sent(message.id, room_id)
        return True


def _engagement_room(content: Any) -> str | None:
    """The creation row an engagement block names (``outbox:<id>``), or None."""
    block = content.get(ENGAGEMENT_KEY) if isinstance(content, dict) else None
    room = block.get("room") if isinstance(block, dict) else None
    return room if isinstance(room, str) and room.startswith(OUTBOX_REF) else None
