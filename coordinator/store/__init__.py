"""Durable store: async engines, migrations, outbox, inbox (SQLite and PostgreSQL)."""

from coordinator.store.engine import create_engine, is_postgres, is_sqlite, normalize_url
from coordinator.store.inbox import Inbox
from coordinator.store.migrate import current_revision, head_revision, migrate
from coordinator.store.outbox import Outbox, OutgoingMessage

__all__ = [
    "Inbox",
    "Outbox",
    "OutgoingMessage",
    "create_engine",
    "current_revision",
    "head_revision",
    "is_postgres",
    "is_sqlite",
    "migrate",
    "normalize_url",
]
