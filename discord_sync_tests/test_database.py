import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.store.database import DAGSTER_SCHEMA, dagster_storage_url, with_driver
from discord_sync.store.migrate import migrate
from discord_sync.store.schema import metadata

REPO = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_migrate_is_idempotent_and_matches_the_declared_schema(database_url, engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate(database_url)
    migrate(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "discord_sync_schema_version"})
        diff = [d for d in compare_metadata(context, metadata) if "discord_sync_schema_version" not in str(d)]
    assert diff == []


def test_driver_urls():
    url = "postgresql://u:p@h:5432/db"
    assert with_driver(url, "psycopg") == "postgresql+psycopg://u:p@h:5432/db"
    assert dagster_storage_url(url).startswith("postgresql+psycopg2://u:p@h:5432/db?options=")
    assert "search_path%3Ddagster" in dagster_storage_url(url)


def test_dagster_writes_run_events_through_the_real_postgres_storage(database_url, engine, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(REPO))

    @dg.asset
    def answer() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"answer": 42})

    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([answer], instance=instance)
        assert result.success
        events = instance.all_logs(result.run_id)
        types = {e.dagster_event.event_type_value for e in events if e.dagster_event}
        assert {"STEP_SUCCESS", "ASSET_MATERIALIZATION"} <= types
        latest = instance.get_latest_materialization_event(dg.AssetKey("answer"))
        assert latest.asset_materialization.metadata["answer"].value == 42
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text(f"SELECT count(*) FROM {DAGSTER_SCHEMA}.event_logs WHERE run_id = :r"), {"r": result.run_id}
        ).scalar()
    assert stored == len(events)


@pytest.mark.integration
def test_a_run_on_a_schema_behind_this_version_refuses_with_the_command_to_run_and_changes_nothing(
    database_url, engine
):
    from discord_sync.defs.resources import PostgresResource
    from discord_sync.store.migrate import required_revision

    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE discord_sync_schema_version SET version_num = '0002'"))

    @dg.asset
    def probe(postgres: PostgresResource) -> None:
        """Needs the product's database."""

    result = dg.materialize(
        [probe], resources={"postgres": PostgresResource(database_url=database_url)}, raise_on_error=False
    )
    assert not result.success
    errors = " ".join(str(event.event_specific_data) for event in result.all_events if event.is_failure)
    expected = (
        f"the database schema is at revision 0002; this version of discord-sync needs revision {required_revision()}"
    )
    assert expected in errors and "run `discord-sync migrate`" in errors
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM discord_sync_schema_version")).scalar_one() == "0002"
