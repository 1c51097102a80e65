"""staff grants: sign-in links, sessions and API tokens (digests only) survive a restart

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_grants",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("staff", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_staff_grants")),
    )
    with op.batch_alter_table("staff_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_grants_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_grants_expires_at"))
    op.drop_table("staff_grants")
