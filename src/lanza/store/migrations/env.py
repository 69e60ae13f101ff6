"""Alembic environment: runs on the connection lanza hands over."""

from __future__ import annotations

from alembic import context

from lanza.store.revisions import VERSION_TABLE
from lanza.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # MLflow keeps its own alembic_version; both may share one database.
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
