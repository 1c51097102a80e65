"""What happened, as the core tells it: typed notifications and the rooms they are for.

A use case never writes Matrix content. It queues a notification (one frozen dataclass
per kind, below) for a typed room reference; the outbox row holds it as JSON with its
kind and a schema version (``encode``/``decode``), and the Matrix side renders each kind
with one renderer (``partner_bots.render.notifications``) and turns the room reference into
a room id in one place (its delivery's resolver). See docs/architecture.md, "The seam".

Need to know holds by construction: the copy of a proposal for the partner through whose
web of trust the provider came (``Audience.VOUCHING``) cannot carry the organization, its
languages or region (``ProposalPosted.__post_init__`` refuses it), and staff notices hold
ids, codes and counts only. Nothing here carries sealed personal data.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

SCHEMA_VERSION = 1
ROW_KIND = "notification"  # the outbox row kind that holds one of these

PARTNER_ROOM = "partner:"
ENGAGEMENT_ROOM = "engagement:"
DIRECT_ROOM = "direct:"


# -- rooms -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerRoom:
    """A partner's room: the one a request was filed in (``room_id``), or, when no request
    names one, whichever of the partner's encrypted rooms delivery picks."""

    handle: str
    room_id: str | None = None

    @property
    def address(self) -> str:
        return self.room_id or PARTNER_ROOM + self.handle


@dataclass(frozen=True)
class EngagementRoom:
    """The encrypted room of an engagement, created by delivery from a ``create_room`` row."""

    engagement: str

    @property
    def address(self) -> str:
        return ENGAGEMENT_ROOM + self.engagement


@dataclass(frozen=True)
class StaffRoom:
    """The configured staff room."""

    room_id: str

    @property
    def address(self) -> str:
        return self.room_id


@dataclass(frozen=True)
class DirectRoom:
    """A person's direct, encrypted room with the bot (opened on first use)."""

    user: str

    @property
    def address(self) -> str:
        return DIRECT_ROOM + self.user


RoomRef = PartnerRoom | EngagementRoom | StaffRoom | DirectRoom
_ROOMS: dict[str, type[Any]] = {
    "partner": PartnerRoom,
    "engagement": EngagementRoom,
    "staff": StaffRoom,
    "direct": DirectRoom,
}
_ROOM_NAMES = {cls: name for name, cls in _ROOMS.items()}


def room_to_json(room: RoomRef) -> dict[str, Any]:
    return {"type": _ROOM_NAMES[type(room)], **dataclasses.asdict(room)}


def room_from_json(data: Mapping[str, Any]) -> RoomRef:
    cls = _ROOMS[str(data["type"])]
    names = {f.name for f in dataclasses.fields(cls)}
    room: RoomRef = cls(**{k: v for k, v in data.items() if k in names})
    return room


# -- kinds -----------------------------------------------------------------------------


class Audience(StrEnum):
    ASKING = "asking"  # the partner that filed the request: its own case
    VOUCHING = "vouching"  # another partner whose approval is needed: never the organization


@dataclass(frozen=True)
class Notification:
    KIND: ClassVar[str] = ""

    @property
    def request(self) -> str | None:
        """The request this is about: delivery places it in that request's thread."""
        return None

    def rooms_named(self) -> tuple[RoomRef, ...]:
        """Rooms the rendered message names by Matrix id (delivery waits until they exist)."""
        return ()


@dataclass(frozen=True)
class ProposalPosted(Notification):
    """A proposal, as one approving partner's room sees it."""

    KIND: ClassVar[str] = "proposal.created"
    proposal: str
    request_id: str
    audience: Audience
    routing_partner: str
    provider: str
    provider_skills: tuple[str, ...]
    provider_languages: tuple[str, ...]
    probation: bool
    path: tuple[str, ...]
    reasons: tuple[str, ...]
    waiting_for: tuple[str, ...]  # partner handles whose approval is still needed
    skills: tuple[str, ...]  # what the request needs
    urgency: str
    status: str = "pending"
    organization: str | None = None  # ASKING only
    languages: tuple[str, ...] = ()  # ASKING only
    region: str | None = None  # ASKING only

    def __post_init__(self) -> None:
        if self.audience is Audience.VOUCHING and (
            self.organization is not None or self.languages or self.region is not None
        ):
            raise ValueError("a vouching partner's copy never carries the organization's case")

    @property
    def request(self) -> str | None:
        return self.request_id


@dataclass(frozen=True)
class ProposalUpdated(ProposalPosted):
    """The current state of a posted copy: delivered as an edit of that copy."""

    KIND: ClassVar[str] = "proposal.updated"

    @property
    def request(self) -> str | None:
        return None  # an edit keeps the original's place


@dataclass(frozen=True)
class EngagementOpened(Notification):
    """In the engagement room: the welcome; in the asking partner's room: that it opened."""

    KIND: ClassVar[str] = "engagement.opened"
    engagement: str
    request_id: str
    provider: str
    skills: tuple[str, ...]

    @property
    def request(self) -> str | None:
        return self.request_id

    def rooms_named(self) -> tuple[RoomRef, ...]:
        return (EngagementRoom(self.engagement),)


class CloseCause(StrEnum):
    CLOSED = "closed"  # a partner or staff closed it: a review is asked for
    ORGANIZATION_REMOVED = "organization_removed"


@dataclass(frozen=True)
class EngagementClosed(Notification):
    KIND: ClassVar[str] = "engagement.closed"
    engagement: str
    cause: CloseCause


@dataclass(frozen=True)
class RequestUnmatched(Notification):
    """To the asking partner: no provider right now, staff were told."""

    KIND: ClassVar[str] = "request.unmatched"
    request_id: str

    @property
    def request(self) -> str | None:
        return self.request_id


@dataclass(frozen=True)
class ReferralSuggested(Notification):
    """To the asking partner: the request is outside the mandate; refer it (``to``) or ask."""

    KIND: ClassVar[str] = "request.outside_mandate"
    request_id: str
    to: str | None

    @property
    def request(self) -> str | None:
        return self.request_id


@dataclass(frozen=True)
class RequestReferred(Notification):
    """To the global partner: the needs of a referred case, never the organization."""

    KIND: ClassVar[str] = "request.referred"
    request_id: str
    from_partner: str
    skills: tuple[str, ...]
    region: str | None
    urgency: str


@dataclass(frozen=True)
class OrganizationRemoved(Notification):
    """To a partner: staff removed one of its organizations; these cases ended."""

    KIND: ClassVar[str] = "organization.removed"
    member: str
    requests: tuple[str, ...]


@dataclass(frozen=True)
class IntakeReceived(Notification):
    """A public-form submission, content-free; its sealed details follow in its thread."""

    KIND: ClassVar[str] = "intake.received"
    reference: str
    form: str
    urgency: str
    referral: bool


# -- staff notices: ids, codes and counts only ------------------------------------------


@dataclass(frozen=True)
class StaffUnmatched(Notification):
    KIND: ClassVar[str] = "staff.unmatched"
    request_id: str
    skills: tuple[str, ...]
    urgency: str


@dataclass(frozen=True)
class SlaEscalation(Notification):
    KIND: ClassVar[str] = "staff.sla"
    requests: tuple[str, ...]


@dataclass(frozen=True)
class VettingChanged(Notification):
    """Where an applicant now stands in the vetting queue, after ``change``."""

    KIND: ClassVar[str] = "staff.vetting"
    change: str
    member: str
    member_kind: str
    status: str
    eligible: bool
    paths: tuple[tuple[str, ...], ...]
    decision: str | None = None  # the trust rules' own explanation (still waiting)
    vouches: int | None = None
    references: int | None = None


@dataclass(frozen=True)
class MemberRemoved(Notification):
    KIND: ClassVar[str] = "staff.removal"
    member: str
    code: str
    reason_given: bool
    reason_sealed: bool
    organization: bool
    needs_revouching: tuple[str, ...]
    rerouted: tuple[str, ...]
    cancelled_requests: int
    withdrawn_proposals: int
    closed_engagements: int


@dataclass(frozen=True)
class AuditAnchor(Notification):
    KIND: ClassVar[str] = "staff.audit_anchor"
    count: int
    hash: str


@dataclass(frozen=True)
class OutboxDead(Notification):
    """A message given up on: its address, id and error code, never its content."""

    KIND: ClassVar[str] = "staff.outbox_dead"
    room: str
    message: str
    code: str


@dataclass(frozen=True)
class RoomUpgraded(Notification):
    """A registered room was upgraded and is followed (``room_kind``: partner, staff or
    engagement; ``partner``: whose room); staff are told what to change in the
    configuration."""

    KIND: ClassVar[str] = "staff.room_upgraded"
    old_room: str
    new_room: str
    room_kind: str
    partner: str | None = None


@dataclass(frozen=True)
class SyncTrouble(Notification):
    """A bot account's sync failed ``failures`` times in a row (0: see ``recovered``)."""

    KIND: ClassVar[str] = "staff.sync"
    recovered: bool
    failures: int


KINDS: dict[str, type[Notification]] = {
    cls.KIND: cls
    for cls in (
        ProposalPosted,
        ProposalUpdated,
        EngagementOpened,
        EngagementClosed,
        RequestUnmatched,
        ReferralSuggested,
        RequestReferred,
        OrganizationRemoved,
        IntakeReceived,
        StaffUnmatched,
        SlaEscalation,
        VettingChanged,
        MemberRemoved,
        AuditAnchor,
        OutboxDead,
        RoomUpgraded,
        SyncTrouble,
    )
}


# -- the outbox row ----------------------------------------------------------------------


@dataclass(frozen=True)
class Queued:
    """A decoded outbox row: what happened, and for which room."""

    notification: Notification
    room: RoomRef


class UnknownNotification(ValueError):
    """A row of a kind or schema version this code does not know (a newer writer)."""


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def encode(notification: Notification, room: RoomRef) -> dict[str, Any]:
    data = {f.name: _plain(getattr(notification, f.name)) for f in dataclasses.fields(notification)}
    return {
        "v": SCHEMA_VERSION,
        "kind": notification.KIND,
        "room": room_to_json(room),
        "data": data,
    }


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        return tuple(_typed(inner, v) for v in value)
    if origin in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(arms[0], value) if len(arms) == 1 else value
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return hint(value)
    return value


def decode(content: Mapping[str, Any]) -> Queued:
    if content.get("v") != SCHEMA_VERSION or content.get("kind") not in KINDS:
        raise UnknownNotification(f"{content.get('kind')!r} v{content.get('v')!r}")
    cls = KINDS[str(content["kind"])]
    hints = typing.get_type_hints(cls)
    data = content.get("data") or {}
    kwargs = {
        f.name: _typed(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)
        if f.name in data
    }
    return Queued(cls(**kwargs), room_from_json(content["room"]))
