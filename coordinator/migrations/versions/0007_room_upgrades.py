"""room upgrades: each room the bot followed to its replacement (old room id, new room
id, what the room was, when)

Revision ID: 0007_room_upgrades
Revises: 0006_intake_ack
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_room_upgrades"
down_revision = "0006_intake_ack"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_upgrades",
        sa.Column("old_room", sa.String(length=255), nullable=False),
        sa.Column("new_room", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("upgraded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("old_room", name=op.f("pk_room_upgrades")),
    )
    with op.batch_alter_table("room_upgrades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_upgrades_new_room"), ["new_room"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("room_upgrades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_upgrades_new_room"))
    op.drop_table("room_upgrades")
