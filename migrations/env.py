"""Alembic environment: applies the product's migrations to the database the caller's connection points at."""

from alembic import context

from discord_sync.store.migrate import VERSION_TABLE
from discord_sync.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
