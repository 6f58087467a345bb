"""Alembic environment: runs on the connection the store hands over (never from alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from signoff.store.schema import VERSION_TABLE, Base


def run_migrations() -> None:
    """Upgrade on the connection given in ``config.attributes['connection']``."""
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
