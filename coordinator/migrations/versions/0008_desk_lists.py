"""desk lists: indexes on the sort keys of the staff desk's lists (keyset paging reads
them in order), and who on staff owns a request or an applicant

Revision ID: 0008_desk_lists
Revises: 0007_room_upgrades
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008_desk_lists"
down_revision = "0007_room_upgrades"
branch_labels = None
depends_on = None

INDEXES: tuple[tuple[str, str, list[Any]], ...] = (
    ("ix_requests_filed_at_id", "requests", ["filed_at", "id"]),
    ("ix_requests_urgency_filed_at_id", "requests", [sa.text("urgency DESC"), "filed_at", "id"]),
    ("ix_proposals_created_at_id", "proposals", ["created_at", "id"]),
    ("ix_engagements_opened_at_id", "engagements", ["opened_at", "id"]),
    ("ix_members_created_at_id", "members", ["created_at", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    op.create_table(
        "case_owners",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", "kind", name=op.f("pk_case_owners")),
    )
    with op.batch_alter_table("case_owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_owners_owner"), ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_owners_owner"))
    op.drop_table("case_owners")
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
