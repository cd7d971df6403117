"""The asset graph as its users see it in the UI: assets, partitions, job, automation, and secrets kept secret."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from discord_sync.defs.community_metrics import METRIC_ASSET_KEYS

TOKEN = "a-real-looking-token.abcdefghijklmnopqrstuvwxyz"
DATABASE_PASSWORD = "a-database-password-0123456789"


@pytest.fixture
def defs(monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://sync:{DATABASE_PASSWORD}@db.invalid:5432/discord_sync")
    monkeypatch.setenv("ANONYMIZATION_KEY", "test-anonymization-key-0123456789")
    import discord_sync.definitions as module

    return importlib.reload(module).defs


def test_asset_graph_is_tenant_partitioned_channels_then_messages(defs):
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    metrics = {"channel_daily_activity", "daily_active_members", "weekly_retention", "responsiveness", "member_daily"}
    synced = {"channels", "messages", "reactions", "attachments", "members", "roles", "message_reactors"}
    assert keys == synced | metrics
    for key in keys:
        node = graph.get(dg.AssetKey(key))
        assert node.partitions_def == dg.DynamicPartitionsDefinition(name="tenants")
    for key in ("messages", "reactions", "attachments", "members", "roles"):
        assert dg.AssetKey("channels") in graph.get(dg.AssetKey(key)).parent_keys
    # Who reacted is listed after the reaction counts it follows.
    assert dg.AssetKey("reactions") in graph.get(dg.AssetKey("message_reactors")).parent_keys
    for key in metrics:
        assert {dg.AssetKey("messages"), dg.AssetKey("reactions")} <= graph.get(dg.AssetKey(key)).parent_keys
    assert dg.AssetKey("members") in graph.get(dg.AssetKey("member_daily")).parent_keys


def test_sync_job_sensor_schedule_and_checks_are_wired(defs):
    job = defs.resolve_job_def("sync_tenant")
    assert job.partitions_def.name == "tenants"
    assert defs.resolve_sensor_def("new_tenant_sensor").job_name == "sync_tenant"
    schedule = defs.resolve_schedule_def("hourly_sync_schedule")
    assert schedule.cron_schedule == "0 * * * *"
    check_names = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert check_names == {
        "every_channel_synced_or_explained",
        "no_raw_user_ids",
        "tenant_sync_is_fresh",
        "daily_messages_add_up",
        "daily_active_members_add_up",
    }
    # A tenant's own sync is followed by its metrics through automation, not through the sync job or a schedule of
    # their own; an hourly batch computes them itself without selecting them (a selected asset costs a planned event
    # per tenant): the batch selects only what its step materializes as outputs.
    assert defs.resolve_sensor_def("community_metrics_after_sync").default_status == dg.DefaultSensorStatus.RUNNING
    metric_keys = {dg.AssetKey(key) for key in METRIC_ASSET_KEYS}
    assert not metric_keys & job.asset_layer.selected_asset_keys
    assert defs.resolve_job_def("sync_tenant_batch").asset_layer.selected_asset_keys == {
        dg.AssetKey(key) for key in ("messages", "reactions", "attachments")
    }
    assert defs.resolve_sensor_def("tenant_run_failure_alert").default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("tenant_freshness_sensor").default_status == dg.DefaultSensorStatus.RUNNING


@pytest.mark.unit
def test_the_alert_webhook_url_reaches_dagster_as_an_env_var_not_its_value(monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    # Loading the definitions opens no connection: a URL that leads nowhere is enough.
    monkeypatch.setenv("DATABASE_URL", "postgresql://discord_sync@127.0.0.1:1/nowhere")
    monkeypatch.setenv("ALERT_WEBHOOK_URL", "https://hooks.example.com/T0/B0/secret-part")
    import discord_sync.definitions as module

    defs = importlib.reload(module).defs
    assert "secret-part" not in repr(defs.resources)
    monkeypatch.delenv("ALERT_WEBHOOK_URL")
    importlib.reload(module)


def test_secrets_reach_dagster_as_env_vars_not_values(defs):
    discord = defs.resources["discord"]
    sync = defs.resources["sync"]
    assert isinstance(discord.bot_token, dg.EnvVar) or "DISCORD_BOT_TOKEN" in repr(discord.bot_token)
    assert TOKEN not in repr(defs.resources)
    assert TOKEN not in repr(discord) and TOKEN not in repr(sync)
    postgres = defs.resources["postgres"]
    assert isinstance(postgres.database_url, dg.EnvVar) and postgres.database_url.env_var_name == "DATABASE_URL"
    assert DATABASE_PASSWORD not in repr(defs.resources)


def test_the_code_location_loads_without_database_url_and_a_run_names_it_when_it_needs_it(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    import discord_sync.definitions as module

    defs = importlib.reload(module).defs
    assert defs.resolve_job_def("sync_tenant")
    # Resolved when a run (or sensor) builds the resource, and named there.
    with pytest.raises(Exception, match="DATABASE_URL"):
        with dg.build_resources({"postgres": defs.resources["postgres"]}):
            pass


def test_a_malformed_setting_stops_loading_the_code_location(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://sync@db.invalid/discord_sync")
    monkeypatch.setenv("SYNC_MAX_CHANNEL_WORKERS", "lots")
    import discord_sync.definitions as module

    with pytest.raises(Exception, match="SYNC_MAX_CHANNEL_WORKERS"):
        importlib.reload(module)
    monkeypatch.delenv("SYNC_MAX_CHANNEL_WORKERS")
    importlib.reload(module)


BARE_CHECKOUT_ENV_KEEP = ("PATH", "HOME", "LANG")


def bare_environment(**extra: str) -> dict[str, str]:
    """The environment of a fresh clone: no DATABASE_URL, no secret, no Dagster or product setting."""
    env = {key: os.environ[key] for key in BARE_CHECKOUT_ENV_KEEP if key in os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    return {**env, **extra}


@pytest.mark.e2e
def test_dagsters_tools_load_the_code_location_on_a_bare_checkout(tmp_path):
    """`dg check defs`, `dg list defs` and `dagster definitions validate` with no database and no secret set.

    DAGSTER_HOME names an empty folder: without it, Dagster's CLI reads the checkout's own dagster.yaml (the
    deployment's, whose storage needs the DAGSTER_PG_* variables) as a temporary instance's settings."""
    repo = Path(__file__).resolve().parents[1]
    bin_dir = Path(sys.executable).parent
    env = bare_environment(DAGSTER_HOME=str(tmp_path))
    checked = subprocess.run(
        [str(bin_dir / "dg"), "check", "defs"], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr

    listed = subprocess.run(
        [str(bin_dir / "dg"), "list", "defs", "--json"], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "sync_tenant" in listed.stdout and "hourly_sync_schedule" in listed.stdout

    # From a folder of its own (no dagster.yaml there) and with no DAGSTER_HOME at all: a truly empty environment.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    validated = subprocess.run(
        [str(bin_dir / "dagster"), "definitions", "validate", "-m", "discord_sync.definitions"],
        cwd=elsewhere,
        env=bare_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert "Validation successful for code location discord_sync.definitions" in validated.stdout + validated.stderr
