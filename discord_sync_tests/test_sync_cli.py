"""`discord-sync sync ...` against a real database, a real Dagster instance stored in it, and a real webserver.

The webserver (`dagster-webserver -m discord_sync.definitions`, one per module: it takes seconds to start) is what
the commands launch, back-fill and cancel through; no daemon runs, so runs stay queued and backfills requested.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from discord_sync.cli import main
from discord_sync.control.runs import RunControl, TenantRun
from discord_sync.run_names import LANE_TAG, PRIORITY_TAG, PURGE_TAG, RECONCILE_TAG, RESET_CHANNEL_TAG, RESET_TAG
from discord_sync.settings import Settings
from discord_sync.store.database import dagster_postgres_environment, shared_engine
from discord_sync.store.tenants import add_tenant
from discord_sync_tests.databases import TEST_ANONYMIZATION_KEY, new_database
from discord_sync_tests.fault_harness import REPO
from discord_sync_tests.webserver_harness import free_port, running_webserver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def module_database(pg_server_url: str, template_database: str) -> Iterator[str]:
    """One migrated database for the module's webserver and every test in it (each test empties it after)."""
    with new_database(pg_server_url, "cli") as url:
        yield url


@pytest.fixture(scope="module")
def webserver(module_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The deployment's webserver, loading the code location by module; the environment that reaches it."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    secrets = {"DISCORD_BOT_TOKEN": "test-token", "ANONYMIZATION_KEY": TEST_ANONYMIZATION_KEY}
    with running_webserver(home, {"DATABASE_URL": module_database, **secrets}) as url:
        yield {
            "DATABASE_URL": module_database,
            "DAGSTER_HOME": str(home),
            "DAGSTER_WEBSERVER_URL": url,
            **dagster_postgres_environment(module_database),
        }


@pytest.fixture
def instance(webserver: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterInstance]:
    """The deployment's instance, with this process's environment pointed at the deployment; emptied after."""
    for key, value in webserver.items():
        monkeypatch.setenv(key, value)
    with DagsterInstance.get() as instance:
        yield instance
        for run in instance.get_runs():
            instance.delete_run(run.run_id)
        for tenant in instance.get_dynamic_partitions("tenants"):
            instance.delete_dynamic_partition("tenants", tenant)
    with shared_engine(webserver["DATABASE_URL"]).begin() as conn:
        conn.execute(sa.text("TRUNCATE tenants, tenant_changes CASCADE"))


@pytest.fixture
def engine(instance: DagsterInstance, webserver: dict[str, str]) -> sa.Engine:
    return shared_engine(webserver["DATABASE_URL"])


@pytest.fixture
def tenants(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
        add_tenant(conn, "globex", 43)
        conn.execute(
            sa.text(
                "INSERT INTO channels (tenant_id, id, name, type, is_thread, created_at) VALUES "
                "('acme', 500, 'general', 0, false, now()), ('acme', 501, 'help', 0, false, now())"
            )
        )
    return ["acme", "globex"]


def tenant_runs(tenant: str) -> list[TenantRun]:
    """The tenant's runs, read as the commands read them (this process's environment is the deployment's)."""
    return RunControl(Settings.from_env()).tenant_runs(tenant)


def statuses(tenant: str) -> list[str]:
    return [run.status for run in tenant_runs(tenant)]


def test_start_queues_one_run_per_tenant_and_a_second_start_returns_the_queued_run(instance, tenants, capsys):
    assert main(["sync", "start"]) == 0
    out = capsys.readouterr().out
    [acme_run] = tenant_runs("acme")
    [globex_run] = tenant_runs("globex")
    assert f"acme: run {acme_run.run_id} queued" in out and f"globex: run {globex_run.run_id} queued" in out
    assert acme_run.status == globex_run.status == "queued"
    assert instance.get_run_by_id(acme_run.run_id).job_name == "sync_tenant"
    assert acme_run.tags["dagster/partition"] == "acme"
    assert (acme_run.tags[LANE_TAG], acme_run.tags[PRIORITY_TAG]) == ("hourly", "10")
    assert sorted(instance.get_dynamic_partitions("tenants")) == ["acme", "globex"]
    assert "no Dagster daemon is running" in out

    assert main(["sync", "start", "--tenant", "acme"]) == 0
    assert f"acme: run {acme_run.run_id} already queued; not starting a second" in capsys.readouterr().out
    assert [run.run_id for run in tenant_runs("acme")] == [acme_run.run_id]


def test_reset_launches_a_backfill_of_the_tenant_carrying_the_reset_tag(instance, tenants, capsys):
    assert main(["sync", "reset", "--tenant", "acme", "--channel", "501", "--yes"]) == 0
    out = capsys.readouterr().out
    backfill_id = out.split("launched as backfill ")[1].split(":")[0]
    backfill = instance.get_backfill(backfill_id)
    assert backfill is not None and list(backfill.partition_names) == ["acme"]
    assert backfill.tags[RESET_CHANNEL_TAG] == "501" and RESET_TAG not in backfill.tags
    assert (backfill.tags[LANE_TAG], backfill.tags[PRIORITY_TAG]) == ("bulk", "0")

    assert main(["sync", "reset", "--tenant", "globex", "--yes"]) == 0
    backfill_id = capsys.readouterr().out.split("launched as backfill ")[1].split(":")[0]
    assert instance.get_backfill(backfill_id).tags[RESET_TAG] == "true"


def test_a_reset_keeps_stored_messages_and_a_purge_says_what_it_deletes_before_it_is_launched(
    instance, tenants, engine, capsys, caplog
):
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE channels SET deleted_at = now() WHERE id = 501;"
                "INSERT INTO messages (tenant_id, id, channel_id, type, created_at, content, deleted_at) VALUES "
                "('acme', 1, 500, 0, now(), 'hello', NULL), ('acme', 2, 500, 0, now(), '', now()), "
                "('acme', 3, 501, 0, now(), 'in a deleted channel', NULL)"
            )
        )
    assert main(["sync", "reset", "--tenant", "acme", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "every stored message kept" in out
    backfill_id = out.split("launched as backfill ")[1].split(":")[0]
    assert PURGE_TAG not in instance.get_backfill(backfill_id).tags

    assert main(["sync", "reset", "--tenant", "acme", "--purge"]) == 1, "a purge needs a confirmation"
    captured = capsys.readouterr()
    assert "--purge deletes 3 stored messages (1 tombstones" in captured.out and "1 of deleted channels" in captured.out
    assert "pass --yes" in captured.err

    assert main(["sync", "reset", "--tenant", "acme", "--purge", "--yes"]) == 0
    captured = capsys.readouterr()
    backfill_id = captured.out.split("launched as backfill ")[1].split(":")[0]
    tags = instance.get_backfill(backfill_id).tags
    assert tags[PURGE_TAG] == "true" and tags[RESET_TAG] == "true"
    assert f"purge of tenant acme requested from the command line (backfill {backfill_id})" in caplog.text
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar() == 3, "the run deletes, not the CLI"


def test_reconcile_launches_a_backfill_of_the_tenant_tagged_to_re_read_its_whole_history(instance, tenants, capsys):
    assert main(["sync", "reconcile", "--tenant", "acme"]) == 0
    out = capsys.readouterr().out
    backfill_id = out.split("launched as backfill ")[1].split(":")[0]
    backfill = instance.get_backfill(backfill_id)
    assert backfill is not None and list(backfill.partition_names) == ["acme"]
    assert backfill.tags[RECONCILE_TAG] == "true" and RESET_TAG not in backfill.tags
    assert backfill.tags[LANE_TAG] == "bulk"


def test_cancel_takes_queued_runs_out_of_the_queue_through_the_webserver(instance, tenants, capsys):
    assert main(["sync", "start"]) == 0
    [globex_run] = tenant_runs("globex")
    capsys.readouterr()

    assert main(["sync", "cancel", "--tenant", "acme"]) == 0
    assert "(queued) canceled" in capsys.readouterr().out
    assert statuses("acme") == ["canceled"]
    assert statuses("globex") == ["queued"]

    assert main(["sync", "cancel", "--run-id", globex_run.run_id]) == 0
    assert statuses("globex") == ["canceled"]
    assert main(["sync", "cancel", "--run-id", globex_run.run_id]) == 1
    assert "already ended (canceled)" in capsys.readouterr().err


def test_reset_refuses_without_a_tty_and_without_yes(instance, tenants, capsys):
    assert main(["sync", "reset", "--tenant", "acme"]) == 1
    assert "pass --yes" in capsys.readouterr().err
    assert tenant_runs("acme") == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sync", "start", "--tenant", "nope"], "no tenant 'nope'"),
        (["sync", "start", "--tenant", "Bad Slug"], "not a valid slug"),
        (["sync", "reset", "--tenant", "acme", "--channel", "999", "--yes"], "has no channel 999"),
        (["sync", "reset", "--tenant", "acme", "--channel", "general", "--yes"], "not a channel id"),
        (["sync", "cancel", "--run-id", "00000000-0000-0000-0000-000000000000"], "no run"),
        (["sync", "status", "--tenant", "nope"], "no tenant 'nope'"),
        (["sync", "reconcile", "--tenant", "nope"], "no tenant 'nope'"),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(instance, tenants, capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_unreachable_webserver_is_one_clear_error_naming_the_setting(instance, tenants, capsys, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", url)
    assert main(["sync", "start", "--tenant", "acme"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach the Dagster webserver at {url} (DAGSTER_WEBSERVER_URL)" in err and err.count("\n") == 1
    assert tenant_runs("acme") == []


def test_a_database_behind_this_version_is_refused_with_the_command_to_run(instance, tenants, engine, capsys):
    with engine.begin() as conn:
        head = conn.execute(sa.text("SELECT version_num FROM discord_sync_schema_version")).scalar_one()
        conn.execute(sa.text("UPDATE discord_sync_schema_version SET version_num = '0002'"))
    try:
        assert main(["sync", "start", "--tenant", "acme"]) == 1
        err = capsys.readouterr().err
        assert f"the database schema is at revision 0002; this version of discord-sync needs revision {head}" in err
        assert "run `discord-sync migrate`" in err and err.count("\n") == 1
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE discord_sync_schema_version SET version_num = :head"), {"head": head})
    assert tenant_runs("acme") == []


def test_start_without_tenants_says_how_to_add_one(instance, capsys):
    assert main(["sync", "start"]) == 1
    assert "tenant add" in capsys.readouterr().err


def test_cancel_with_nothing_queued_is_not_an_error(instance, tenants, capsys):
    assert main(["sync", "cancel", "--tenant", "acme"]) == 0
    assert "no queued or running sync of tenant acme" in capsys.readouterr().out


def test_status_reports_tenants_and_channels_as_table_and_json(instance, tenants, engine, capsys):
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sync_progress (tenant_id, channel_id, last_message_id, status, messages_synced, "
                "last_synced_at, last_error) VALUES "
                "('acme', 500, 1234567890123456789, 'complete', 120, now(), NULL), "
                "('acme', 501, NULL, 'skipped', 0, now(), '403 Missing Access')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO channel_sync_jobs (tenant_id, channel_id, run_id, status, finished_at, messages, "
                "messages_per_second) VALUES ('acme', 500, 'run-a', 'complete', now(), 120, 60.0), "
                "('acme', 501, 'run-a', 'skipped', now(), 0, NULL)"
            )
        )
        # A channel of the catalog no sync has reached yet: listed too, pending.
        conn.execute(
            sa.text(
                "INSERT INTO channels (tenant_id, id, name, type, is_thread, created_at) "
                "VALUES ('acme', 502, 'new-channel', 0, false, now())"
            )
        )

    assert main(["sync", "status", "--tenant", "acme", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [acme] = data["tenants"]
    assert (acme["tenant_id"], acme["complete"], acme["skipped"], acme["messages"]) == ("acme", 1, 1, 120)
    assert acme["last_run"] is None
    by_name = {c["name"]: c for c in data["channels"]}
    assert by_name["general"]["last_message_id"] == "1234567890123456789"
    assert by_name["general"]["messages_per_second"] == 60.0
    assert by_name["help"]["status"] == "skipped" and by_name["help"]["error"] == "403 Missing Access"
    assert by_name["help"]["reason"] == "403 Missing Access"
    assert by_name["new-channel"]["status"] == "pending" and by_name["new-channel"]["last_message_id"] is None

    assert main(["sync", "status"]) == 0
    table = capsys.readouterr().out
    assert "acme" in table and "globex" in table and "never" in table

    assert main(["sync", "status", "--tenant", "acme"]) == 0
    table = capsys.readouterr().out
    assert "general" in table and "1234567890123456789" in table and "403 Missing Access" in table
    assert "new-channel" in table


def test_a_code_location_that_failed_to_load_is_named_with_its_reason(tenants, monkeypatch, tmp_path, capsys):
    # A webserver whose code location refuses its settings (its own storage is a plain local one).
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    broken = {"DATABASE_URL": os.environ["DATABASE_URL"], "SYNC_MAX_CHANNEL_WORKERS": "lots"}
    with running_webserver(tmp_path, broken) as url:
        monkeypatch.setenv("DAGSTER_WEBSERVER_URL", url)
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        assert main(["sync", "start", "--tenant", "acme"]) == 1
    err = capsys.readouterr().err
    assert "the Dagster webserver has no job sync_tenant: code location discord_sync.definitions failed to load" in err
    assert "SYNC_MAX_CHANNEL_WORKERS must be a whole number" in err and err.count("\n") == 1
