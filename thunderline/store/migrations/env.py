"""Alembic environment of the warehouse: always online, on the connection the caller opened.

Why the connection comes from :mod:`thunderline.store.migrations` rather than a URL in an ini
file: the caller holds the migration lock (PostgreSQL advisory lock, SQLite write lock) on
that connection, so the version check and the upgrade happen under one lock.
"""

from alembic import context

from thunderline.store import metadata
from thunderline.store.migrations import VERSION_TABLE, autogenerate_filter

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("warehouse migrations run online only, through thunderline.store.migrations")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy-and-move
    compare_type=True,
    version_table=VERSION_TABLE,
    include_object=autogenerate_filter(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()
