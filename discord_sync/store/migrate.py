"""`discord-sync migrate`: bring the product's tables to the newest schema with Alembic (idempotent)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from discord_sync.store.database import shared_engine

# The top-level `migrations/` folder, reached through the link `store/migrations` so that a non-editable install
# (the container image) carries the migrations inside the package (pyproject.toml's package-data).
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Serializes concurrent `migrate` calls (the webserver, the daemon and a test may start at once).
_MIGRATION_LOCK_KEY = 0x6473796E63  # "dsync"


def alembic_config(connection: sa.Connection) -> Config:
    """An Alembic config bound to an open connection; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(database_url: str) -> None:
    """Apply every pending migration; running it again changes nothing."""
    with shared_engine(database_url).connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        try:
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            connection.commit()
