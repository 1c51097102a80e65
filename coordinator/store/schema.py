"""Table definitions (SQLAlchemy Core). Alembic migrations are the source of truth for
the database; a test checks that these tables and the migrated schema agree.

Personal data lives only in ``sealed``: one row per sealed value, so a purge is a
plain DELETE of rows, followed by VACUUM so the bytes leave the database file.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

TS = sa.DateTime(timezone=True)

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

partners = sa.Table(
    "partners",
    metadata,
    sa.Column("handle", sa.String(200), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("is_global", sa.Boolean, nullable=False, default=False),
    sa.Column("rooms", sa.JSON, nullable=False),
    sa.Column("members", sa.JSON, nullable=False),
)

providers = sa.Table(
    "providers",
    metadata,
    sa.Column("id", sa.String(200), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("skills", sa.JSON, nullable=False),
    sa.Column("languages", sa.JSON, nullable=False),
    sa.Column("regions", sa.JSON, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("tier", sa.String(20), nullable=False),
    sa.Column("organizations", sa.JSON, nullable=False),
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(200), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("partner", sa.String(200), sa.ForeignKey("partners.handle"), nullable=False),
    sa.Column("region", sa.String(40), nullable=True),
    sa.Column("areas", sa.JSON, nullable=False),
    sa.Column("archive_consent", sa.Boolean, nullable=False, default=False),
)

vouches = sa.Table(
    "vouches",
    metadata,
    sa.Column("author", sa.String(200), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("target", sa.String(200), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("at", TS, nullable=False),
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # NULL after a refusal: only the reason code and the date remain.
    sa.Column("organization", sa.String(200), nullable=True, index=True),
    sa.Column("partner", sa.String(200), nullable=True, index=True),
    sa.Column("skills", sa.JSON, nullable=False),
    sa.Column("languages", sa.JSON, nullable=False),
    sa.Column("region", sa.String(40), nullable=True),
    sa.Column("urgency", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("filed_at", TS, nullable=False),
    sa.Column("acknowledged_at", TS, nullable=True),
    sa.Column("escalated_at", TS, nullable=True),
    sa.Column("closed_at", TS, nullable=True),
    sa.Column("reason_code", sa.String(40), nullable=True),
    sa.Column("referred_to", sa.String(200), nullable=True),
    # The Matrix room the request was filed in: its replies and everything about it go
    # there. NULL when filed elsewhere (CLI, dashboard): the partner's default room.
    sa.Column("room", sa.String(255), nullable=True),
)

proposals = sa.Table(
    "proposals",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("request", sa.String(40), sa.ForeignKey("requests.id"), nullable=False, index=True),
    sa.Column("provider", sa.String(200), sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("path", sa.JSON, nullable=False),
    sa.Column("approvals_needed", sa.JSON, nullable=False),
    sa.Column("approvals", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("decided_at", TS, nullable=True),
    # Why the provider was chosen (routing's words, no personal data): an edit of the
    # posted proposal renders from it, never from the message already sent.
    sa.Column("reasons", sa.JSON, nullable=True),
)

engagements = sa.Table(
    "engagements",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("request", sa.String(40), sa.ForeignKey("requests.id"), nullable=False, index=True),
    sa.Column("proposal", sa.String(40), sa.ForeignKey("proposals.id"), nullable=False),
    sa.Column("provider", sa.String(200), sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("partner", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("opened_at", TS, nullable=False),
    sa.Column("closed_at", TS, nullable=True),
    sa.Column("archive", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("proposal"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("engagement", sa.String(40), sa.ForeignKey("engagements.id"), primary_key=True),
    sa.Column("provider", sa.String(200), nullable=False, index=True),
    sa.Column("conduct", sa.Integer, nullable=False),
    sa.Column("contract", sa.Integer, nullable=False),
    sa.Column("communication", sa.Integer, nullable=False),
    sa.Column("violation", sa.Boolean, nullable=False),
    sa.Column("at", TS, nullable=False),
)

notations = sa.Table(
    "notations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("member", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("engagement", sa.String(40), nullable=True),
    sa.Column("at", TS, nullable=False),
)

# Sealed personal data: organization names, contacts, free-text notes.
sealed = sa.Table(
    "sealed",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner", sa.String(200), nullable=False, index=True),  # organization id
    sa.Column("scope", sa.String(40), nullable=False, index=True),  # "org" or a request id
    sa.Column("field", sa.String(40), nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=False),
)

# Counts and types that remain after a purge.
retention_counts = sa.Table(
    "retention_counts",
    metadata,
    sa.Column("kind", sa.String(80), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("room", sa.String(255), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    # NULL once sent: the room has the message; only what exactly-once needs stays.
    sa.Column("content", sa.JSON, nullable=True),
    sa.Column("thread_of", sa.String(255), nullable=True),
    sa.Column("reply_to", sa.String(255), nullable=True),
    sa.Column("edits", sa.String(255), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("available_at", TS, nullable=False),
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("lease_until", TS, nullable=True),
    sa.Column("event_id", sa.String(255), nullable=True),
    sa.Column("error_code", sa.String(80), nullable=True),
)

# Where the bot's proposals went: one row per posted copy (an outbox row), filled in when
# the copy is delivered (the room it resolved to, its event id, the thread it sits in).
# A reaction finds its proposal by (room_id, event_id); an edit finds every copy.
proposal_posts = sa.Table(
    "proposal_posts",
    metadata,
    sa.Column("message", sa.String(40), primary_key=True),  # outbox id
    sa.Column("proposal", sa.String(40), nullable=False, index=True),
    sa.Column("request", sa.String(40), nullable=False),
    sa.Column("room", sa.String(255), nullable=False),  # the outbox's room address
    sa.Column("room_id", sa.String(255), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False, index=True),
    sa.Column("thread_of", sa.String(255), nullable=True),
)

# The thread a request lives in, per room address: the partner's `!dsx request` in the
# room it was filed in, or the first copy of a proposal for it in another partner's room
# (an outbox reference until that copy is delivered).
request_threads = sa.Table(
    "request_threads",
    metadata,
    sa.Column("request", sa.String(40), primary_key=True),
    sa.Column("room", sa.String(255), primary_key=True),
    sa.Column("root", sa.String(255), nullable=False),
)

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("use_case", sa.String(80), nullable=False),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("handled_at", TS, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(80), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# One row per named singleton lock (SQLite has no advisory locks).
meta_kv = sa.Table(
    "meta_kv",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

# Staff sign-in secrets (one-time links, sessions, API tokens), by SHA-256 digest only:
# the tokens themselves are never stored. Rows past ``expires_at`` are purged.
staff_grants = sa.Table(
    "staff_grants",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("staff", sa.String(255), nullable=False),
    sa.Column("expires_at", TS, nullable=False, index=True),
    # API tokens only: a public id to list and revoke them by, never the secret.
    sa.Column("token_id", sa.String(32), nullable=True, unique=True, index=True),
    sa.Column("label", sa.String(100), nullable=True),
    sa.Column("created_at", TS, nullable=True),
    sa.Column("last_used_at", TS, nullable=True),
)

# The direct (is_direct, encrypted) room the bot sends each staff member's sign-in links in.
staff_direct_rooms = sa.Table(
    "staff_direct_rooms",
    metadata,
    sa.Column("staff", sa.String(255), primary_key=True),
    sa.Column("room_id", sa.String(255), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# Rate-limit counters (dsx/web/ratelimit.py): one row per limit, client and fixed
# window, so every process counts against the same budget. ``client`` is a keyed hash of
# the client's network, never an address; a row is deleted once its window is over.
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("scope", sa.String(20), primary_key=True),
    sa.Column("client", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
)

# Public-form submissions as staff see them: no field of the form, only its kind, urgency,
# the partner it was routed to (by handle; None: the staff room) and who acknowledged it.
# The fields themselves are in ``sealed`` (scope ``intake``).
intake_queue = sa.Table(
    "intake_queue",
    metadata,
    sa.Column("reference", sa.String(40), primary_key=True),
    sa.Column("form", sa.String(20), nullable=False),
    sa.Column("urgency", sa.String(20), nullable=False),
    sa.Column("routed_to", sa.String(200), nullable=True),
    sa.Column("referral", sa.Boolean, nullable=False),
    sa.Column("received_at", TS, nullable=False, index=True),
    sa.Column("acknowledged_at", TS, nullable=True),
    sa.Column("acknowledged_by", sa.String(255), nullable=True),
    # When its details reached the partner's room (the retention window starts there).
    sa.Column("delivered_at", TS, nullable=True),
)

# Organizations renamed to opaque ids by a migration, until their old handle (which was
# their name) is sealed as the name and their sealed rows rebound: coordinator/store/renames.py.
organization_renames = sa.Table(
    "organization_renames",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("old", sa.String(200), nullable=False),
)
