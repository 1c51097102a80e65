"""intake queue: one row per public-form submission (form, urgency, the partner it was
routed to by handle, when), and who on staff acknowledged it

Revision ID: 0006_intake_ack
Revises: 0005_request_room
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0006_intake_ack"
down_revision = "0005_request_room"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_queue",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("urgency", sa.String(length=20), nullable=False),
        sa.Column("routed_to", sa.String(length=200), nullable=True),
        sa.Column("referral", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_intake_queue")),
    )
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_queue_received_at"), ["received_at"], unique=False
        )
    _backfill()


_audit = sa.table(
    "audit_log",
    sa.column("seq", sa.Integer),
    sa.column("at", sa.String),
    sa.column("action", sa.String),
    sa.column("subject", sa.String),
    sa.column("data", sa.JSON),
)
_outbox = sa.table(
    "outbox",
    sa.column("room", sa.String),
    sa.column("kind", sa.String),
    sa.column("content", sa.JSON),
)
_queue = sa.table(
    "intake_queue",
    sa.column("reference", sa.String),
    sa.column("form", sa.String),
    sa.column("urgency", sa.String),
    sa.column("routed_to", sa.String),
    sa.column("referral", sa.Boolean),
    sa.column("received_at", sa.DateTime(timezone=True)),
)
PARTNER_ROOM = "partner:"  # coordinator/store/outbox.py, as of this revision


def _backfill() -> None:
    """Submissions received before this revision, from their ``intake.received`` audit
    entries (kind, urgency, time), with the partner from the notice still in the outbox
    (a partner room address names its handle); they wait unacknowledged."""
    conn = op.get_bind()
    routed: dict[str, str] = {}
    for row in conn.execute(
        sa.select(_outbox.c.room, _outbox.c.content).where(_outbox.c.kind == "message")
    ):
        content = row.content if isinstance(row.content, dict) else {}
        block = content.get("org.dsx.intake")
        if isinstance(block, dict) and str(row.room).startswith(PARTNER_ROOM):
            routed[str(block.get("reference"))] = str(row.room)[len(PARTNER_ROOM) :]
    seen: set[str] = set()
    for row in conn.execute(
        sa.select(_audit).where(_audit.c.action == "intake.received").order_by(_audit.c.seq)
    ):
        data = row.data if isinstance(row.data, dict) else {}
        if row.subject in seen:
            continue
        seen.add(row.subject)
        conn.execute(
            _queue.insert().values(
                reference=row.subject,
                form=str(data.get("form") or "request"),
                urgency=str(data.get("urgency") or "normal"),
                routed_to=routed.get(row.subject),
                referral=bool(data.get("referral")),
                received_at=datetime.fromisoformat(row.at),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_queue_received_at"))
    op.drop_table("intake_queue")
