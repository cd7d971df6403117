import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.store.database import dagster_postgres_environment, with_driver
from discord_sync.store.migrate import migrate
from discord_sync.store.schema import DAGSTER_SCHEMA, metadata

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


@pytest.mark.unit
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://sync:p%40ss@db.internal:6543/discord",
            {
                "DAGSTER_PG_HOST": "db.internal",
                "DAGSTER_PG_PORT": "6543",
                "DAGSTER_PG_USER": "sync",
                "DAGSTER_PG_PASSWORD": "p@ss",
                "DAGSTER_PG_DB": "discord",
            },
        ),
        (
            "postgresql+psycopg://postgres:@/postgres?host=/tmp/pg-socket",
            {
                "DAGSTER_PG_HOST": "",
                "DAGSTER_PG_PORT": "5432",
                "DAGSTER_PG_USER": "postgres",
                "DAGSTER_PG_PASSWORD": "",
                "DAGSTER_PG_DB": "postgres",
                "PGHOST": "/tmp/pg-socket",
            },
        ),
    ],
)
def test_dagster_postgres_environment_names_the_same_database_as_the_url(url, expected):
    assert dagster_postgres_environment(url) == expected


@pytest.mark.unit
def test_dagster_yaml_uses_dagster_postgres_own_storage_in_the_dagster_schema():
    import yaml

    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    postgres_db = config["storage"]["postgres"]["postgres_db"]
    assert postgres_db["scheme"] == "postgresql+psycopg2"
    assert postgres_db["params"] == {"options": f"-csearch_path={DAGSTER_SCHEMA}"}
    assert {value["env"] for key, value in postgres_db.items() if isinstance(value, dict) and "env" in value} == {
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
    }
    modules = [v["module"] for v in config.values() if isinstance(v, dict) and "module" in v]
    assert not [m for m in modules if m.startswith("discord_sync")], "the stock Dagster images must read this file"


def test_dagster_writes_run_events_through_the_real_postgres_storage(database_url, engine, monkeypatch, tmp_path):
    # The repository's dagster.yaml in a home of the test's, so the run's compute logs land in tmp_path.
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))

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


def test_dagster_storage_reaches_the_embedded_server_over_its_unix_socket(tmp_path, monkeypatch):
    """The demo's case: no DATABASE_URL, the embedded server listens on a socket only, dagster.yaml still finds it."""
    import os
    import subprocess
    import sys

    tmp_path.chmod(0o777)  # pgserver runs the server as its own user under root
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DAGSTER_PG", "PGHOST"))}
    env.update(DISCORD_SYNC_HOME=str(tmp_path), DAGSTER_HOME=str(tmp_path / "home"))
    script = (
        "import dagster as dg\n"
        "from discord_sync.settings import Settings\n"
        "from discord_sync.store.database import export_dagster_postgres_environment\n"
        "from discord_sync.store.embedded_postgres import embedded_database_url, stop_embedded_server\n"
        "from discord_sync.store.migrate import migrate\n"
        "settings = Settings.from_env()\n"
        "url = embedded_database_url(settings)\n"
        "try:\n"
        "    assert '?host=' in url, url\n"
        "    export_dagster_postgres_environment(url)\n"
        "    migrate(url)\n"
        "    with dg.DagsterInstance.get() as instance:\n"
        "        instance.add_dynamic_partitions('tenants', ['acme'])\n"
        "        print(instance.get_dynamic_partitions('tenants'))\n"
        "finally:\n"
        "    stop_embedded_server(settings)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['acme']"
