"""API tokens get an id, a label, creation and last-use times; staff direct rooms

Revision ID: 0004
Revises: 0003_rate_limits
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003_rate_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("label", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_staff_grants_token_id"), ["token_id"], unique=True)
    op.create_table(
        "staff_direct_rooms",
        sa.Column("staff", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("staff", name=op.f("pk_staff_direct_rooms")),
    )


def downgrade() -> None:
    op.drop_table("staff_direct_rooms")
    with op.batch_alter_table("staff_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_grants_token_id"))
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("created_at")
        batch_op.drop_column("label")
        batch_op.drop_column("token_id")
