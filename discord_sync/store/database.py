"""Connections to the product's PostgreSQL: one URL, spelled for each driver and process that needs it.

The product's own tables go through SQLAlchemy with psycopg 3 (`postgresql+psycopg`). Dagster's storage is
dagster-postgres's own, configured in `dagster.yaml` from the `DAGSTER_PG_*` variables (so Dagster's stock images
and its Helm chart read it without this package); `dagster_postgres_environment` derives them from `DATABASE_URL`
so that both always name the same database. Dagster's tables live in the schema `dagster` (created by migration
0007), away from the analysts' tables in `public`.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from discord_sync.settings import Settings


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


def dagster_postgres_environment(url: str) -> dict[str, str]:
    """The `DAGSTER_PG_*` variables naming the same database as `url`, for dagster-postgres's `postgres_db` config.

    A Unix-socket URL (`?host=/dir`, as the embedded server gives) leaves the host empty and sets libpq's
    `PGHOST`, since dagster-postgres builds a `host:port` URL that cannot spell a socket folder.
    """
    parsed = make_url(with_driver(url, "psycopg2"))
    socket_dir = parsed.query.get("host")
    env = {
        "DAGSTER_PG_HOST": "" if socket_dir else (parsed.host or ""),
        "DAGSTER_PG_PORT": str(parsed.port or 5432),
        "DAGSTER_PG_USER": parsed.username or "",
        "DAGSTER_PG_PASSWORD": parsed.password or "",
        "DAGSTER_PG_DB": parsed.database or "",
    }
    if socket_dir:
        env["PGHOST"] = socket_dir if isinstance(socket_dir, str) else socket_dir[0]
    return env


def export_dagster_postgres_environment(url: str, environ: MutableMapping[str, str] | None = None) -> None:
    """Set the `DAGSTER_PG_*` variables from `url` where the deployment did not set them (child processes inherit)."""
    environ = os.environ if environ is None else environ
    for name, value in dagster_postgres_environment(url).items():
        environ.setdefault(name, value)


def create_db_engine(url: str, **kwargs: object) -> sa.Engine:
    """An engine on the product's tables (psycopg 3)."""
    return sa.create_engine(with_driver(url, "psycopg"), pool_pre_ping=True, **kwargs)


@lru_cache(maxsize=8)
def shared_engine(url: str) -> sa.Engine:
    """One engine per URL per process, so resources and CLI commands share a connection pool."""
    return create_db_engine(url)


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg.connect) spells it: no SQLAlchemy driver suffix."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url
