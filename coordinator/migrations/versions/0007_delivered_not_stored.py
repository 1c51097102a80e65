"""delivered, not stored: outbox content may be deleted once sent; proposals keep their
reasons (edits render from them, not from a sent message); intake submissions record
when their details were delivered; organizations get opaque ids (the old handle, which
was the name, is kept only until it is sealed: coordinator/store/renames.py)

Revision ID: 0007_delivered_not_stored
Revises: 0006_intake_ack
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007_delivered_not_stored"
down_revision = "0006_intake_ack"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("content", existing_type=sa.JSON(), nullable=True)
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivered_at", TS, nullable=True))
    op.create_table(
        "organization_renames",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("old", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_renames")),
    )
    _rename_organizations()
    _forget_sent_contents()


_outbox = sa.table(
    "outbox",
    sa.column("kind", sa.String),
    sa.column("state", sa.String),
    sa.column("content", sa.JSON),
    sa.column("created_at", TS),
)
_queue = sa.table("intake_queue", sa.column("reference", sa.String), sa.column("delivered_at", TS))


def _forget_sent_contents() -> None:
    """Sent rows lose their content (a submission's delivery is dated on its queue row
    first: its retention window starts there)."""
    conn = op.get_bind()
    sent = conn.execute(
        sa.select(_outbox.c.content, _outbox.c.created_at).where(
            _outbox.c.kind == "intake_details", _outbox.c.state == "sent"
        )
    ).all()
    for row in sent:
        content = row.content if isinstance(row.content, dict) else {}
        conn.execute(
            _queue.update()
            .where(_queue.c.reference == str(content.get("reference")))
            .values(delivered_at=row.created_at)
        )
    conn.execute(_outbox.update().where(_outbox.c.state == "sent").values(content=None))


_members = sa.table(
    "members",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("created_at", TS),
)
_orgs = sa.table(
    "organizations",
    sa.column("id", sa.String),
    sa.column("partner", sa.String),
    sa.column("region", sa.String),
    sa.column("areas", sa.JSON),
    sa.column("archive_consent", sa.Boolean),
)
_vouches = sa.table("vouches", sa.column("author", sa.String), sa.column("target", sa.String))
_requests = sa.table("requests", sa.column("organization", sa.String))
_notations = sa.table("notations", sa.column("member", sa.String))
_sealed = sa.table("sealed", sa.column("owner", sa.String))
_providers = sa.table("providers", sa.column("id", sa.String), sa.column("organizations", sa.JSON))
_proposals = sa.table("proposals", sa.column("id", sa.String), sa.column("path", sa.JSON))
_renames = sa.table("organization_renames", sa.column("id", sa.String), sa.column("old", sa.String))


def _swap(values: Any, renamed: dict[str, str]) -> list[Any]:
    return [renamed.get(v, v) for v in (values or [])]


def _rename_organizations() -> None:
    """Every organization whose id is not opaque gets one (``o-`` + random hex) in every
    table that names it; the old handle waits in ``organization_renames`` until the
    coordinator seals it as the name (coordinator/store/renames.py) and deletes the row."""
    conn = op.get_bind()
    old_ids = [r.id for r in conn.execute(sa.select(_orgs.c.id)) if not str(r.id).startswith("o-")]
    renamed = {old: f"o-{secrets.token_hex(6)}" for old in old_ids}
    for old, new in renamed.items():
        member = conn.execute(sa.select(_members).where(_members.c.id == old)).first()
        org = conn.execute(sa.select(_orgs).where(_orgs.c.id == old)).first()
        assert member is not None and org is not None
        conn.execute(
            _members.insert().values(
                id=new, kind=member.kind, status=member.status, created_at=member.created_at
            )
        )
        conn.execute(
            _orgs.insert().values(
                id=new,
                partner=org.partner,
                region=org.region,
                areas=org.areas,
                archive_consent=org.archive_consent,
            )
        )
        conn.execute(_vouches.update().where(_vouches.c.author == old).values(author=new))
        conn.execute(_vouches.update().where(_vouches.c.target == old).values(target=new))
        conn.execute(
            _requests.update().where(_requests.c.organization == old).values(organization=new)
        )
        conn.execute(_notations.update().where(_notations.c.member == old).values(member=new))
        conn.execute(_sealed.update().where(_sealed.c.owner == old).values(owner=new))
        conn.execute(_orgs.delete().where(_orgs.c.id == old))
        conn.execute(_members.delete().where(_members.c.id == old))
        conn.execute(_renames.insert().values(id=new, old=old))
    if not renamed:
        return
    for row in conn.execute(sa.select(_providers)).all():
        swapped = _swap(row.organizations, renamed)
        if swapped != list(row.organizations or []):
            conn.execute(
                _providers.update().where(_providers.c.id == row.id).values(organizations=swapped)
            )
    for row in conn.execute(sa.select(_proposals)).all():
        swapped = _swap(row.path, renamed)
        if swapped != list(row.path or []):
            conn.execute(_proposals.update().where(_proposals.c.id == row.id).values(path=swapped))


def downgrade() -> None:
    op.drop_table("organization_renames")
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.drop_column("delivered_at")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("reasons")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("content", existing_type=sa.JSON(), nullable=False)
