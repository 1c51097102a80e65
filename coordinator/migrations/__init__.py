"""Alembic migrations, shipped inside the package so `dsx migrate` works when installed."""
