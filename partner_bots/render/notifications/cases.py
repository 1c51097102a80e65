"""Notices about a case for a partner's room, and the public form's intake notice."""

from __future__ import annotations

from typing import Any

from coordinator import notifications as n
from partner_bots.render.notice import notice
from partner_bots.render.notifications.registry import Where, renders
from partner_bots.render.text import clean

DSX = "org.dsx"


def _ids(values: tuple[str, ...]) -> str:
    return ", ".join(clean(v, 64) for v in values)


@renders(n.RequestUnmatched)
def unmatched(x: n.RequestUnmatched, where: Where) -> dict[str, Any]:
    return notice(
        f"No provider is available for request {x.request_id} right now; staff were told."
    )


@renders(n.ReferralSuggested)
def outside_mandate(x: n.ReferralSuggested, where: Where) -> dict[str, Any]:
    text = f"Request {x.request_id} is outside the U.S. mandate. " + (
        f"Once the organization consents, refer it with `!dsx refer {x.request_id} "
        f"to={x.to}`; nothing is shared before that."
        if x.to
        else "No global partner is configured; ask staff."
    )
    return notice(text, extra={f"{DSX}.referral": {"request": x.request_id, "to": x.to}})


@renders(n.RequestReferred)
def referred(x: n.RequestReferred, where: Where) -> dict[str, Any]:
    text = (
        f"Referral {x.request_id}: skills {_ids(x.skills)}; "
        f"region {x.region or 'unknown'}; urgency {x.urgency}. "
        f"Partner {x.from_partner} will introduce the organization."
    )
    block = {"request": x.request_id, "from": x.from_partner}
    return notice(text, extra={f"{DSX}.referral": block})


@renders(n.OrganizationRemoved)
def organization_removed(x: n.OrganizationRemoved, where: Where) -> dict[str, Any]:
    text = (
        f"Organization {x.member} was removed from the network by staff. "
        f"Its cases ended: {_ids(x.requests)}; its data was purged."
    )
    block = {"member": x.member, "requests": list(x.requests)}
    return notice(text, extra={f"{DSX}.removal": block})


@renders(n.IntakeReceived)
def intake_received(x: n.IntakeReceived, where: Where) -> dict[str, Any]:
    """Content-free: the sealed details follow in this notice's thread
    (``partner_bots.workflow.intake``), opened for an encrypted room only."""
    request = x.form == "request"
    what = "request for assistance" if request else "provider application"
    text = f"New {what} {x.reference} from the public form"
    if request:
        text += f" (urgency {x.urgency})"
    if x.referral:
        text += "; outside the U.S.: to be referred to the global partner"
    text += ". The details will be delivered in this encrypted room."
    block = {"reference": x.reference, "form": x.form, "urgency": x.urgency, "referral": x.referral}
    return notice(text, extra={f"{DSX}.intake": block})
