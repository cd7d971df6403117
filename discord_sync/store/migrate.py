"""`discord-sync migrate` and the check every run makes: the product's tables at the newest Alembic revision.

The Alembic folder is `migrations/` at the top of the repository; the wheel ships it as the package
`discord_sync.migrations` (pyproject.toml maps one onto the other), so it is found through `importlib.resources`
wherever the product is installed. Migrating is a deploy step: runs only check the version (`require_current_schema`)
and never issue DDL.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from discord_sync.settings import Settings
from discord_sync.store.database import resolve_database_url, shared_engine

# Alembic's bookkeeping table; not `alembic_version`, so it never meets Dagster's own (schema `dagster`).
VERSION_TABLE = "discord_sync_schema_version"

# Serializes concurrent `migrate` calls (two deploy jobs, or a test session's template and a demo, at once).
_MIGRATION_LOCK_KEY = 0x6473796E63  # "dsync"


class SchemaVersionError(RuntimeError):
    """The database's schema is not the one this version of the product needs; the message says what to run."""


def migrations_dir() -> str:
    """The Alembic script folder as shipped with the installed package."""
    return str(files("discord_sync.migrations"))


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config on the shipped scripts, bound to an open connection when given; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", migrations_dir())
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def required_revision() -> str:
    """The newest revision this version of the product ships (Alembic's head)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise SchemaVersionError("no migrations are shipped with this installation of discord-sync")
    return head


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with shared_engine(database_url).connect() as connection:
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def require_current_schema(database_url: str) -> None:
    """Refuse to work on a database whose schema is not at this version's revision, saying what to run."""
    current, needed = current_revision(database_url), required_revision()
    if current != needed:
        at = f"at revision {current}" if current else "not created yet (no migration was ever applied)"
        raise SchemaVersionError(
            f"the database schema is {at}; this version of discord-sync needs revision {needed}: "
            "run `discord-sync migrate`"
        )


def migrated_engine(settings: Settings | None = None) -> sa.Engine:
    """The shared engine on the settings' database once its schema is this version's; what every command that reads
    or writes the product's tables works on (a database behind it is refused, saying what to run)."""
    url = resolve_database_url(settings)
    require_current_schema(url)
    return shared_engine(url)


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
