"""Find and sort: the staff desk's lists (requests, proposals, engagements, vetting,
members, audit) as typed query objects with filters, a search over id columns and keyset
paging (docs/staff.md, "Find and sort").

A list is read in the order of its sort key followed by the row's id, and a page ends
with a cursor holding the last row's key: the next page starts strictly after it. So
page 50 costs what page 1 costs (no OFFSET; the migration ``0008_desk_lists`` indexes
the sort keys), and a row added between two page loads repeats or hides none of the
others. A cursor is signed: a forged or edited one is ``BadCursor``, whatever was changed.

Filters arrive as text (a URL's query string, the API's parameters). A value that does
not parse becomes a ``Problem`` with a one-line message and is left out; the other
filters still apply. Nothing here reads ``sealed``: ids, states, times and counts only.
"""

from __future__ import annotations

from coordinator.listing.cursors import BadCursor, Cursors
from coordinator.listing.desk import (
    AUDIT,
    ENGAGEMENTS,
    MEMBERS,
    PROPOSALS,
    REQUESTS,
    VETTING,
    AuditItem,
    EngagementItem,
    MemberItem,
    ProposalItem,
    RequestItem,
    audit_page,
    engagement_page,
    members_page,
    proposal_page,
    request_page,
    vetting_page,
)
from coordinator.listing.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Listing,
    ListQuery,
    Page,
    Problem,
    parse,
    unknown_partner,
)

__all__ = [
    "AUDIT",
    "DEFAULT_LIMIT",
    "ENGAGEMENTS",
    "MAX_LIMIT",
    "MEMBERS",
    "PROPOSALS",
    "REQUESTS",
    "VETTING",
    "AuditItem",
    "BadCursor",
    "Cursors",
    "EngagementItem",
    "ListQuery",
    "Listing",
    "MemberItem",
    "Page",
    "Problem",
    "ProposalItem",
    "RequestItem",
    "audit_page",
    "engagement_page",
    "members_page",
    "parse",
    "proposal_page",
    "request_page",
    "unknown_partner",
    "vetting_page",
]
