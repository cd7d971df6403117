"""`discord-sync sync ...` against a real database and a real Dagster instance stored in it (no daemon)."""

from __future__ import annotations

import json
import shutil

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, DagsterRunStatus

from discord_sync.cli import main
from discord_sync.control.runs import REPO_ROOT, tenant_runs
from discord_sync.defs.jobs import RECONCILE_TAG, RESET_CHANNEL_TAG, RESET_TAG
from discord_sync.store.tenants import add_tenant


@pytest.fixture
def instance(database_url, tmp_path, monkeypatch):
    """The deployment's own instance settings (`dagster.yaml`), in a home of the test's, on the test's database."""
    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with DagsterInstance.get() as instance:
        yield instance


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


def statuses(instance: DagsterInstance, tenant: str) -> list[DagsterRunStatus]:
    return [run.status for run in tenant_runs(instance, tenant)]


def test_start_reset_and_cancel_go_through_the_run_queue(instance, tenants, capsys, monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "test-token")
    assert main(["sync", "start"]) == 0
    out = capsys.readouterr().out
    [acme_run] = tenant_runs(instance, "acme")
    [globex_run] = tenant_runs(instance, "globex")
    assert acme_run.run_id in out and globex_run.run_id in out
    assert acme_run.status == globex_run.status == DagsterRunStatus.QUEUED
    assert acme_run.job_name == "sync_tenant" and acme_run.tags["dagster/partition"] == "acme"
    assert sorted(instance.get_dynamic_partitions("tenants")) == ["acme", "globex"]

    assert main(["sync", "reset", "--tenant", "acme", "--channel", "501", "--yes"]) == 0
    reset_run = tenant_runs(instance, "acme")[0]
    assert reset_run.tags[RESET_CHANNEL_TAG] == "501" and RESET_TAG not in reset_run.tags
    assert "waits for run" in capsys.readouterr().out

    assert main(["sync", "cancel", "--tenant", "acme"]) == 0
    assert statuses(instance, "acme") == [DagsterRunStatus.CANCELED, DagsterRunStatus.CANCELED]
    assert statuses(instance, "globex") == [DagsterRunStatus.QUEUED]

    assert main(["sync", "cancel", "--run-id", globex_run.run_id]) == 0
    assert statuses(instance, "globex") == [DagsterRunStatus.CANCELED]
    assert main(["sync", "cancel", "--run-id", globex_run.run_id]) == 1
    assert "already ended (canceled)" in capsys.readouterr().err


def test_start_without_the_bot_token_names_the_missing_variable(instance, tenants, capsys, monkeypatch):
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    assert main(["sync", "start", "--tenant", "acme"]) == 1
    err = capsys.readouterr().err
    assert "DISCORD_BOT_TOKEN is not set" in err and err.count("\n") == 1
    assert tenant_runs(instance, "acme") == []


@pytest.mark.integration
def test_reconcile_queues_one_run_of_the_tenant_tagged_to_re_read_its_whole_history(
    instance, tenants, capsys, monkeypatch
):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "test-token")
    assert main(["sync", "reconcile", "--tenant", "acme"]) == 0
    [run] = tenant_runs(instance, "acme")
    assert run.tags[RECONCILE_TAG] == "true" and RESET_TAG not in run.tags and run.status == DagsterRunStatus.QUEUED
    assert tenant_runs(instance, "globex") == []
    assert "reconcile of tenant acme queued" in capsys.readouterr().out


def test_reset_refuses_without_a_tty_and_without_yes(instance, tenants, capsys):
    assert main(["sync", "reset", "--tenant", "acme"]) == 1
    assert "pass --yes" in capsys.readouterr().err
    assert tenant_runs(instance, "acme") == []


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

    assert main(["sync", "status", "--tenant", "acme", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [acme] = data["tenants"]
    assert (acme["tenant_id"], acme["complete"], acme["skipped"], acme["messages"]) == ("acme", 1, 1, 120)
    assert acme["last_run"] is None
    by_name = {c["name"]: c for c in data["channels"]}
    assert by_name["general"]["last_message_id"] == "1234567890123456789"
    assert by_name["general"]["messages_per_second"] == 60.0
    assert by_name["help"]["status"] == "skipped" and by_name["help"]["error"] == "403 Missing Access"

    assert main(["sync", "status"]) == 0
    table = capsys.readouterr().out
    assert "acme" in table and "globex" in table and "never" in table

    assert main(["sync", "status", "--tenant", "acme"]) == 0
    table = capsys.readouterr().out
    assert "general" in table and "1234567890123456789" in table and "403 Missing Access" in table
