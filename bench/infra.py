"""What every benchmark stands on: an emulator in its own process, a PostgreSQL database, the sync's environment.

The emulator runs in a child process (`discord_sync.emulator.EmulatorProcess`: its own interpreter and GIL), so
the sync never competes with it for one core's worth of Python; its CPU time is read from /proc through psutil so
a run can tell when the emulator, not the sync, was the bound.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from discord_sync.emulator import EmulatorProcess as _EmulatorProcess
from discord_sync.store.database import dagster_postgres_environment
from discord_sync.store.embedded_postgres import start_server

BENCH_TOKEN = "bench-token.abcdefghijklmnopqrstuvwxyz0123456789"
ANONYMIZATION_KEY = "bench-anonymization-key-0123456789"


class EmulatorProcess(_EmulatorProcess):
    """The product's `EmulatorProcess`, serving the benchmarks' token."""

    @classmethod
    def start(cls, specs, **options) -> EmulatorProcess:  # type: ignore[override]
        return super().start(specs, token=BENCH_TOKEN, **options)


class Server:
    """The PostgreSQL the benchmarks use: the given URL, or a throwaway embedded server in a temp dir."""

    def __init__(self, url: str | None) -> None:
        self._tempdir: str | None = None
        self._server: Any = None
        if url is None:
            self._tempdir = tempfile.mkdtemp(prefix="discord-sync-bench-")
            self._server = start_server(Path(self._tempdir) / "pgdata", throwaway=True)
            url = self._server.get_uri()
        self.url = url
        self.embedded = self._server is not None

    def fresh_database(self, name: str) -> str:
        """Drop and create database `name`, migrate it to the product's schema; returns its URL."""
        admin = sa.create_engine(_driver(self.url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = with_database(self.url, name)
        from discord_sync.store.migrate import migrate

        migrate(url)
        return url

    def close(self) -> None:
        if self._server is not None:
            self._server.cleanup()
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)


def _driver(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}"


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def sync_environment(base_url: str, database_url: str, **overrides: str) -> dict[str, str]:
    """The environment a deployment would give the product, pointed at the emulator and the bench database."""
    env = dict(os.environ)
    env.update(
        DISCORD_BOT_TOKEN=BENCH_TOKEN,
        DISCORD_API_BASE_URL=base_url,
        DATABASE_URL=database_url,
        ANONYMIZATION_KEY=ANONYMIZATION_KEY,
        PYTHONWARNINGS="ignore",
    )
    # dagster.yaml's storage reads DAGSTER_PG_*: the same database as DATABASE_URL.
    env.update(dagster_postgres_environment(database_url))
    env.update(overrides)
    return env
