"""Shared fixtures: a real PostgreSQL server, a fresh, migrated database per test, and a tenant to write into.

The server is `DISCORD_SYNC_TEST_DATABASE_URL` when given (any database on it; tests create their own), else an
embedded server that `pgserver` starts in a temporary folder, so a fresh machine needs nothing installed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from discord_sync.store.database import create_db_engine, dagster_postgres_environment
from discord_sync.store.migrate import migrate

# One template per test session, so sessions sharing a server (DISCORD_SYNC_TEST_DATABASE_URL) never drop each
# other's.
TEMPLATE_DB = f"discord_sync_test_template_{uuid.uuid4().hex[:8]}"
TEST_ANONYMIZATION_KEY = "test-anonymization-key-0123456789"


def _database_on(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a database on a real PostgreSQL server the tests may create databases on."""
    given = os.environ.get("DISCORD_SYNC_TEST_DATABASE_URL")
    if given:
        yield given
        return
    import pgserver

    pgdata = Path(tmp_path_factory.mktemp("pg")) / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    """A migrated database that each test's database is copied from (a copy costs milliseconds)."""
    admin = create_db_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    url = _database_on(pg_server_url, TEMPLATE_DB)
    migrate(url)
    from discord_sync.store.database import shared_engine

    shared_engine(url).dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(pg_server_url: str, template_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh migrated database for one test; `DATABASE_URL` (and Dagster's `DAGSTER_PG_*`) point at it meanwhile."""
    name = f"discord_sync_test_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"'))
    url = _database_on(pg_server_url, name)
    monkeypatch.setenv("DATABASE_URL", url)
    for name, value in dagster_postgres_environment(url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ANONYMIZATION_KEY", TEST_ANONYMIZATION_KEY)
    yield url
    from discord_sync.store.database import shared_engine

    shared_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    """An engine on the test's database."""
    from discord_sync.store.database import shared_engine

    return shared_engine(database_url)


@pytest.fixture
def tenant_with_channel(engine: sa.Engine) -> str:
    """Tenant `acme` with one stored channel, 900 ("general"), to write messages into."""
    from discord_sync.store.schema import channels
    from discord_sync.store.tenants import add_tenant

    with engine.begin() as conn:
        add_tenant(conn, "acme", 1)
        conn.execute(
            channels.insert().values(
                tenant_id="acme", id=900, name="general", type=0, is_thread=False, created_at=sa.func.now()
            )
        )
    return "acme"
