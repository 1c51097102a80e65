"""request room and posted proposals: replies go to the room a request was filed in, and
which event shows which proposal (and which thread a request lives in) is looked up by key

Revision ID: 0005_request_room
Revises: 0004
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_request_room"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("room", sa.String(length=255), nullable=True))
    op.create_table(
        "proposal_posts",
        sa.Column("message", sa.String(length=40), nullable=False),
        sa.Column("proposal", sa.String(length=40), nullable=False),
        sa.Column("request", sa.String(length=40), nullable=False),
        sa.Column("room", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("thread_of", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("message", name=op.f("pk_proposal_posts")),
    )
    with op.batch_alter_table("proposal_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_posts_proposal"), ["proposal"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_posts_event_id"), ["event_id"], unique=False)
    op.create_table(
        "request_threads",
        sa.Column("request", sa.String(length=40), nullable=False),
        sa.Column("room", sa.String(length=255), nullable=False),
        sa.Column("root", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("request", "room", name=op.f("pk_request_threads")),
    )
    _backfill()


_outbox = sa.table(
    "outbox",
    sa.column("seq", sa.Integer),
    sa.column("id", sa.String),
    sa.column("room", sa.String),
    sa.column("kind", sa.String),
    sa.column("content", sa.JSON),
    sa.column("thread_of", sa.String),
    sa.column("edits", sa.String),
    sa.column("state", sa.String),
    sa.column("event_id", sa.String),
)
_requests = sa.table(
    "requests", sa.column("id", sa.String), sa.column("partner", sa.String), sa.column("room")
)
_partners = sa.table("partners", sa.column("handle", sa.String), sa.column("rooms", sa.JSON))
_posts = sa.table(
    "proposal_posts",
    *(sa.column(c, sa.String) for c in ("message", "proposal", "request", "room")),
    *(sa.column(c, sa.String) for c in ("room_id", "event_id", "thread_of")),
)
_threads = sa.table(
    "request_threads", *(sa.column(c, sa.String) for c in ("request", "room", "root"))
)


def _backfill() -> None:
    """Proposals delivered before this revision: their posts, each request's thread per
    room (its first copy there) and the room each request was filed in (its partner's room
    that showed its first proposal), so a reaction on an old proposal still finds it."""
    conn = op.get_bind()
    events = {
        r.id: r.event_id
        for r in conn.execute(
            sa.select(_outbox.c.id, _outbox.c.event_id).where(_outbox.c.event_id.is_not(None))
        )
    }
    rooms_of = {r.handle: set(r.rooms or ()) for r in conn.execute(sa.select(_partners))}
    partner_of = {r.id: r.partner for r in conn.execute(sa.select(_requests))}
    rows = conn.execute(
        sa.select(_outbox)
        .where(
            _outbox.c.kind == "message",
            _outbox.c.edits.is_(None),
            _outbox.c.state == "sent",
            _outbox.c.event_id.is_not(None),
        )
        .order_by(_outbox.c.seq)
    )
    threads: dict[tuple[str, str], str] = {}
    filed_in: dict[str, str] = {}
    for row in rows:
        content = row.content if isinstance(row.content, dict) else {}
        block = content.get("org.dsx.proposal")
        if not isinstance(block, dict) or not str(row.room).startswith("!"):
            continue
        thread = row.thread_of
        if thread and thread.startswith("outbox:"):
            thread = events.get(thread[len("outbox:") :])
        request = str(block.get("request"))
        conn.execute(
            _posts.insert().values(
                message=row.id,
                proposal=str(block.get("id")),
                request=request,
                room=row.room,
                room_id=row.room,
                event_id=row.event_id,
                thread_of=thread,
            )
        )
        threads.setdefault((request, row.room), thread or row.event_id)
        if row.room in rooms_of.get(partner_of.get(request) or "", set()):
            filed_in.setdefault(request, row.room)
    for (request, room), root in threads.items():
        conn.execute(_threads.insert().values(request=request, room=room, root=root))
    for request, room in filed_in.items():
        conn.execute(_requests.update().where(_requests.c.id == request).values(room=room))


def downgrade() -> None:
    op.drop_table("request_threads")
    with op.batch_alter_table("proposal_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_posts_event_id"))
        batch_op.drop_index(batch_op.f("ix_proposal_posts_proposal"))
    op.drop_table("proposal_posts")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("room")
