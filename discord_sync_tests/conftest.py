"""Shared fixtures (and only fixtures and hooks): a real PostgreSQL server, a fresh, migrated database per test, and a
tenant to write into; the helpers they are built from live in `databases.py`.

The server is `DISCORD_SYNC_TEST_DATABASE_URL` when given (any database on it; tests create their own), else an
embedded server that `pgserver` starts in a temporary folder, so a fresh machine needs nothing installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from discord_sync.store.database import create_db_engine, dagster_postgres_environment
from discord_sync.store.embedded_postgres import start_server
from discord_sync.store.migrate import migrate
from discord_sync_tests.databases import (
    TEMPLATE_DB,
    TEST_ANONYMIZATION_KEY,
    database_on,
    embedded_server_folder,
    new_database,
)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a database on a real PostgreSQL server the tests may create databases on."""
    given = os.environ.get("DISCORD_SYNC_TEST_DATABASE_URL")
    if given:
        yield given
        return
    with embedded_server_folder() as folder:
        server = start_server(folder / "pgdata", throwaway=True)
        yield server.get_uri()
        server.cleanup()


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    """A migrated database that each test's database is copied from (a copy costs milliseconds)."""
    admin = create_db_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    url = database_on(pg_server_url, TEMPLATE_DB)
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
    with new_database(pg_server_url, "test") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        for variable, value in dagster_postgres_environment(url).items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("ANONYMIZATION_KEY", TEST_ANONYMIZATION_KEY)
        yield url


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


# Every test is marked `unit`, `integration` or `e2e` by what it uses, so `pytest -m unit` runs the fast set alone.
# A marker written on a test wins; otherwise these decide (a test's module name, then the fixtures it asks for).
TEST_KINDS = ("unit", "integration", "e2e")
# Modules whose tests run several processes: sync processes, a Dagster webserver and daemon, fresh interpreters.
E2E_MODULES = frozenset(
    {
        "test_demo",
        "test_end_to_end",
        "test_reliability_concurrency",
        "test_reliability_crash",
        "test_reliability_postgres",
        "test_reliability_settings",
    }
)
# Modules whose tests start an emulator or a Dagster instance themselves, without a fixture.
INTEGRATION_MODULES = frozenset({"test_emulator_limits_and_faults", "test_schedules", "test_sensors", "test_security"})
INTEGRATION_FIXTURES = frozenset(
    {"pg_server_url", "template_database", "database_url", "engine", "tenant_with_channel", "emulator", "tenant"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its kind; a test marked `unit` that asks for a database or an emulator is an error."""
    for item in items:
        uses = INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("unit") is not None and uses:
            raise pytest.UsageError(f"{item.nodeid} is marked unit but uses {sorted(uses)}")
        if any(item.get_closest_marker(kind) is not None for kind in TEST_KINDS):
            continue
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        if module in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
        elif module in INTEGRATION_MODULES or uses:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)
