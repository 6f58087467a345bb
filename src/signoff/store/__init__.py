"""Persistence of the registry (SQLite and PostgreSQL through SQLAlchemy and Alembic)."""

from signoff.store.database import (
    DatabaseLocation,
    check_schema,
    create_registry_engine,
    head_revision,
    migrate,
    resolve_location,
)
from signoff.store.store import Store, StoreSession

__all__ = [
    "DatabaseLocation",
    "Store",
    "StoreSession",
    "check_schema",
    "create_registry_engine",
    "head_revision",
    "migrate",
    "resolve_location",
]
