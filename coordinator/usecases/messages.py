"""Outgoing Matrix event contents, built so that need-to-know holds by construction.

Three audiences, three builders: the asking partner's room (its own case: the
organization handle and request details), another approving partner's room (the
request's needs and the provider, never the organization), and the staff room (ids,
states and counts only). None of them carries sealed personal data; a delivery
process with the private key opens that only for the engagement room.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from coordinator.store.sealed import ORGANIZATION_PREFIX

DSX = "org.dsx"
# Organizations to show by name beside their opaque id: delivery, which alone holds the
# private key, opens the names for the rooms that may read them (docs/security.md).
NAMES_KEY = f"{DSX}.names"


# The case's sealed contact and note, for its engagement room only: delivery opens them
# there right before the send (partner_bots/workflow/names.py).
CASE_KEY = f"{DSX}.case_details"


def naming(*organization_ids: str) -> dict[str, Any]:
    """The block that asks delivery to show these organizations' names."""
    ids = sorted({o for o in organization_ids if o.startswith(ORGANIZATION_PREFIX)})
    return {NAMES_KEY: ids} if ids else {}


def case_details(organization: str, request_id: str) -> dict[str, Any]:
    """The block that asks delivery to add the case's contact and note (engagement room)."""
    if not organization.startswith(ORGANIZATION_PREFIX):
        return {}
    return {CASE_KEY: {"organization": organization, "request": request_id}}


def notice(
    text: str, *, mentions: Iterable[str] = (), blocks: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": html.escape(text).replace("\n", "<br>"),
        "m.mentions": {"user_ids": sorted(set(mentions))},
    }
    content.update(blocks or {})
    return content


def proposal_block(
    proposal_id: str,
    request_id: str,
    provider: str,
    paths: list[list[str]],
    approvals_needed: list[str],
    status: str,
) -> dict[str, Any]:
    return {
        f"{DSX}.proposal": {
            "id": proposal_id,
            "request": request_id,
            "provider": provider,
            "paths": paths,
            "approvals_needed": approvals_needed,
            "status": status,
        }
    }


def proposal_for_asking_partner(
    *,
    proposal_id: str,
    request_id: str,
    organization: str,
    provider: str,
    path: list[str],
    approvals_needed: list[str],
    reasons: list[str],
    probation: bool,
) -> dict[str, Any]:
    pod = " (probation pod)" if probation else ""
    text = (
        f"Proposal {proposal_id} for request {request_id} ({organization}): "
        f"provider {provider}{pod}.\nVouching path: {' → '.join(path) or 'none'}\n"
        f"Why: {'; '.join(reasons)}\n"
        f"Approve with `!dsx approve {proposal_id}` or decline with `!dsx decline {proposal_id}`."
    )
    return notice(
        text,
        blocks=proposal_block(
            proposal_id, request_id, provider, [path], approvals_needed, "pending"
        ),
    )


def proposal_for_other_partner(
    *,
    proposal_id: str,
    request_id: str,
    provider: str,
    path: list[str],
    skills: list[str],
    urgency: str,
    approvals_needed: list[str],
) -> dict[str, Any]:
    """For the partner through whose web of trust the provider came: no organization."""
    text = (
        f"Provider {provider}, whom your network vouched for, is proposed for request "
        f"{request_id} (skills: {', '.join(skills)}; urgency {urgency}).\n"
        f"Vouching path: {' → '.join(path) or 'none'}\n"
        f"Approve with `!dsx approve {proposal_id}` or decline with `!dsx decline {proposal_id}`."
    )
    return notice(
        text,
        blocks=proposal_block(
            proposal_id, request_id, provider, [path], approvals_needed, "pending"
        ),
    )


def engagement_block(engagement_id: str, request_id: str, provider: str, room: str) -> dict:
    return {
        f"{DSX}.engagement": {
            "id": engagement_id,
            "request": request_id,
            "provider": provider,
            "room": room,
        }
    }


def staff(text: str, **block: Any) -> dict[str, Any]:
    """Staff-room notice: ids, codes and counts only."""
    return notice(text, blocks={f"{DSX}.staff": block})
