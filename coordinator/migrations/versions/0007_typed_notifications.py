"""typed notifications: proposal posts are written as a copy is queued (room and event
filled in at delivery), and a proposal keeps routing's reasons for its edits

Revision ID: 0007_typed_notifications
Revises: 0006_intake_ack
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_typed_notifications"
down_revision = "0006_intake_ack"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
    with op.batch_alter_table("proposal_posts", schema=None) as batch_op:
        batch_op.alter_column("room_id", existing_type=sa.String(length=255), nullable=True)
        batch_op.alter_column("event_id", existing_type=sa.String(length=255), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM proposal_posts WHERE event_id IS NULL OR room_id IS NULL")
    with op.batch_alter_table("proposal_posts", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column("room_id", existing_type=sa.String(length=255), nullable=False)
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("reasons")
