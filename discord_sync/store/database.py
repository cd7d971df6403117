"""Connections to the product's PostgreSQL: one URL, spelled for each driver that needs it.

The product's own tables go through SQLAlchemy with psycopg 3 (`postgresql+psycopg`). Dagster's storage goes
through psycopg2 (`postgresql+psycopg2`) because dagster-postgres sends `NOTIFY ..., :param`, which psycopg 3
rejects, and it lives in its own schema `dagster` so that its tables (and its `alembic_version`) never mix with
the analysts' tables in `public`.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa

from discord_sync.settings import Settings

DAGSTER_SCHEMA = "dagster"


def resolve_database_url(settings: Settings | None = None) -> str:
    """`DATABASE_URL` for a process's start-up (a CLI command, Dagster's storage); `SettingsError` when unset.

    Called once where a process starts; Dagster code gets the URL from the `postgres` resource instead. There is
    no fallback database: `discord-sync demo` starts the embedded one and exports its URL to its children.
    """
    return (settings or Settings.from_env()).require_database_url()


def with_driver(url: str, driver: str) -> str:
    """The same URL with the SQLAlchemy driver spelled out, e.g. `postgresql+psycopg://...`."""
    scheme, rest = url.split("://", 1)
    if scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: scheme {scheme!r}")
    return f"postgresql+{driver}://{rest}"


def dagster_storage_url(url: str) -> str:
    """The URL Dagster's run, event and schedule storage uses: psycopg2, schema `dagster` first in the path."""
    parts = urlsplit(with_driver(url, "psycopg2"))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={DAGSTER_SCHEMA}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def create_db_engine(url: str, **kwargs: object) -> sa.Engine:
    """An engine on the product's tables (psycopg 3)."""
    return sa.create_engine(with_driver(url, "psycopg"), pool_pre_ping=True, **kwargs)


@lru_cache(maxsize=8)
def shared_engine(url: str) -> sa.Engine:
    """One engine per URL per process, so resources and CLI commands share a connection pool."""
    return create_db_engine(url)


def ensure_dagster_schema(url: str) -> None:
    """Create the schema that holds Dagster's own storage tables."""
    with shared_engine(url).begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {DAGSTER_SCHEMA}"))


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg.connect) spells it: no SQLAlchemy driver suffix."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url
