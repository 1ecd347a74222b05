"""Column helpers shared by the tables."""

from __future__ import annotations

from sqlalchemy import Column, Integer


def version_column() -> Column:
    """Optimistic lock: SQLAlchemy adds `WHERE version = :old` to every UPDATE and raises
    StaleDataError when another writer got there first (the API answers 409)."""
    return Column("version", Integer, nullable=False, default=1)
