"""intake queue: one row per public-form submission (form, urgency, the partner it was
routed to by handle, when), and who on staff acknowledged it

Revision ID: 0006_intake_ack
Revises: 0005_request_room
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

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


def downgrade() -> None:
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_queue_received_at"))
    op.drop_table("intake_queue")
