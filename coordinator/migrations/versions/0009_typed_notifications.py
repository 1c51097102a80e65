"""typed notifications: proposal posts are written as a copy is queued (room and event
filled in at delivery), and a proposal keeps routing's reasons for its edits; copies
queued before this revision and not delivered yet get their post row too

Revision ID: 0009_typed_notifications
Revises: 0008_desk_lists
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_typed_notifications"
down_revision = "0008_desk_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
    with op.batch_alter_table("proposal_posts", schema=None) as batch_op:
        batch_op.alter_column("room_id", existing_type=sa.String(length=255), nullable=True)
        batch_op.alter_column("event_id", existing_type=sa.String(length=255), nullable=True)
    _backfill_waiting()


_outbox = sa.table(
    "outbox",
    *(sa.column(c, sa.String) for c in ("id", "room", "kind", "edits", "state")),
    sa.column("content", sa.JSON),
)
_posts = sa.table(
    "proposal_posts", *(sa.column(c, sa.String) for c in ("message", "proposal", "request", "room"))
)


def _backfill_waiting() -> None:
    """Rendered copies still in the outbox (written before typed notifications): their
    post row, so delivery completes it and a ✅ on them finds the proposal."""
    conn = op.get_bind()
    known = {r.message for r in conn.execute(sa.select(_posts.c.message))}
    rows = conn.execute(
        sa.select(_outbox).where(
            _outbox.c.kind == "message",
            _outbox.c.edits.is_(None),
            _outbox.c.state.in_(["pending", "dead"]),
        )
    )
    for row in rows:
        content = row.content if isinstance(row.content, dict) else {}
        block = content.get("org.dsx.proposal")
        if not isinstance(block, dict) or row.id in known:
            continue
        conn.execute(
            _posts.insert().values(
                message=row.id,
                proposal=str(block.get("id")),
                request=str(block.get("request")),
                room=row.room,
            )
        )


def downgrade() -> None:
    op.execute("DELETE FROM proposal_posts WHERE event_id IS NULL OR room_id IS NULL")
    with op.batch_alter_table("proposal_posts", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column("room_id", existing_type=sa.String(length=255), nullable=False)
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("reasons")
