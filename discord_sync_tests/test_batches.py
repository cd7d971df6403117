"""An hourly batch run through the real Dagster assets, the emulator and PostgreSQL: each tenant of the batch is its
own partition, and a tenant that fails neither fails nor holds back the others; it is retried alone."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.defs.assets import batch_sync_run_id, channels, messages
from discord_sync.defs.batch_retries import batch_retry_sensor
from discord_sync.defs.community_metrics import METRIC_ASSET_KEYS, community_metrics, metrics_automation_sensor
from discord_sync.defs.freshness import tenant_freshness
from discord_sync.defs.jobs import sync_tenant_batch_job, sync_tenant_job
from discord_sync.defs.member_assets import members, message_reactors
from discord_sync.defs.partitions import TENANT_PARTITIONS_NAME, tenant_partitions
from discord_sync.defs.resources import HourlyBatches, resources_from_settings
from discord_sync.defs.schedules import hourly_sync_schedule
from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.run_names import RANGE_END_TAG, RANGE_START_TAG
from discord_sync.settings import Settings
from discord_sync.store.sync_runs import run_history
from discord_sync.store.sync_status import SUCCESSFUL_OUTCOMES
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, stored_message_ids, sync_env

# A guild id the emulator does not know: the tenant's discovery fails with Discord's 404 "Unknown Guild".
UNKNOWN_GUILD = 999_999_999_999_999_999
ASSETS = [
    "channels",
    "messages",
    "reactions",
    "attachments",
    "members",
    "roles",
    *METRIC_ASSET_KEYS,
]


@pytest.fixture
def emulator():
    with Emulator(guilds=[GuildSpec(seed=1, scale=0.02), GuildSpec(seed=2, scale=0.02)], token=TEST_TOKEN) as emu:
        yield emu


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[channels, messages, members, message_reactors, community_metrics],
        jobs=[sync_tenant_job, sync_tenant_batch_job],
        sensors=[batch_retry_sensor, metrics_automation_sensor],
        schedules=[hourly_sync_schedule],
        resources=resources_from_settings(Settings.from_env()),
    )


def materialized(instance: dg.DagsterInstance, asset: str, tenant: str) -> list[str]:
    """The ids of the runs that materialized the asset's partition for the tenant."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[tenant]), limit=10
    )
    return [record.run_id for record in result.records]


def test_a_failing_tenant_leaves_its_batch_synced_and_is_retried_alone(engine, emulator, instance, monkeypatch):
    sync_env(monkeypatch, emulator)
    create_tenant(engine, "acme", emulator.guild_ids[0])
    create_tenant(engine, "broken", UNKNOWN_GUILD)
    create_tenant(engine, "globex", emulator.guild_ids[1])
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, ["acme", "broken", "globex"])
    defs = definitions()
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    # The hourly schedule's run request, run as the daemon would: one run for the range, with its asset selection.
    with dg.build_schedule_context(
        instance=instance,
        repository_def=defs.get_repository_def(),
        scheduled_execution_time=datetime.now(UTC),
        resources={"hourly_batches": HourlyBatches()},
    ) as context:
        [request] = hourly_sync_schedule.evaluate_tick(context).run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("acme", "globex")
    batch = defs.resolve_job_def("sync_tenant_batch").execute_in_process(instance=instance, tags=request.tags)

    # The batch succeeds for the others: each has its own materializations of every asset, its community metrics
    # included, from the batch run.
    assert batch.success
    for tenant in ("acme", "globex"):
        assert all(materialized(instance, asset, tenant) == [batch.run_id] for asset in ASSETS), tenant
        assert stored_message_ids(engine, tenant)
        # The members listing was due (a first sync): the batch listed them, as the per-tenant job would; and it
        # computed the tenant's metrics.
        with engine.connect() as conn:
            listed = conn.execute(sa.text("SELECT count(*) FROM members WHERE tenant_id = :t"), {"t": tenant})
            assert listed.scalar_one() > 0, tenant
            days = conn.execute(
                sa.text("SELECT count(*) FROM channel_daily_activity WHERE tenant_id = :t"), {"t": tenant}
            )
            assert days.scalar_one() > 0, tenant
    # So the metrics' automation asks for nothing after the batch: no metrics run per batch.
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    assert after.total_requested == 0
    assert all(materialized(instance, asset, "broken") == [] for asset in ASSETS)
    # Nobody opted in to who reacted: nothing was asked of Discord for it, and nothing is recorded.
    assert all(materialized(instance, "message_reactors", tenant) == [] for tenant in ("acme", "broken", "globex"))
    # Each synced tenant's own check results, recorded by the batch for its partition; none for the failed one.
    checks = [
        event.dagster_event.asset_check_evaluation_data
        for event in instance.all_logs(batch.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    assert sorted((c.partition, c.check_name, c.passed) for c in checks) == [
        (tenant, check, True)
        for tenant in ("acme", "globex")
        for check in ("every_channel_synced_or_explained", "no_raw_user_ids")
    ]
    # Each tenant's sync is its own row in `sync_runs`, the history the API's `/tenants/{id}/runs` reads.
    with engine.connect() as conn:
        for tenant in ("acme", "globex"):
            [row] = run_history(conn, tenant, limit=10)
            assert row.run_id == batch_sync_run_id(batch.run_id, tenant)
            assert row.outcome in SUCCESSFUL_OUTCOMES
        # Its discovery failed before any message sync began, as in a run of its own.
        assert run_history(conn, "broken", limit=10) == []
    batch_run = instance.get_run_by_id(batch.run_id)
    assert batch_run is not None and batch_run.tags["discord_sync/failed_tenants"] == "broken"

    # The retry sensor asks for one run of the failed tenant alone, once.
    [success] = instance.all_logs(batch.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    with dg.build_run_status_sensor_context(
        sensor_name="batch_retry_sensor",
        dagster_event=success.dagster_event,
        dagster_instance=instance,
        dagster_run=batch_run,
        repository_def=defs.get_repository_def(),
    ) as context:
        [retry] = batch_retry_sensor(context)
    assert retry.partition_key == "broken"
    assert retry.run_key == f"batch_retry:{batch.run_id}:broken"
    assert retry.tags["discord_sync/batch_retry_of"] == batch.run_id

    retried = defs.resolve_job_def("sync_tenant").execute_in_process(
        instance=instance, partition_key="broken", tags=retry.tags, raise_on_error=False
    )

    # Retried alone, it fails alone: the partition view shows each tenant's own status.
    assert not retried.success
    assert instance.get_run_by_id(retried.run_id).tags["dagster/partition"] == "broken"
    statuses = instance.get_status_by_partition(
        dg.AssetKey("channels"), ["acme", "broken", "globex"], tenant_partitions
    )
    assert statuses == {
        "acme": dg.AssetPartitionStatus.MATERIALIZED,
        "broken": dg.AssetPartitionStatus.FAILED,
        "globex": dg.AssetPartitionStatus.MATERIALIZED,
    }
    # And the synced tenants are fresh, with the batch run as their last sync.
    judged = {
        state.tenant_id: state
        for state in tenant_freshness(instance, engine, ["acme", "broken", "globex"], max_age_hours=2, now=time.time())
    }
    assert judged["acme"].run_id == judged["globex"].run_id == batch.run_id
    assert not judged["acme"].stale and not judged["globex"].stale

    # The next hour's batch: the members are not due, so they are neither asked for nor recorded again (their
    # partitions keep showing the listing); each tenant costs its synced tables, its metrics and its checks, and
    # its progress lines stay out of the run's event log, while the failed tenant's error is in it.
    again = defs.resolve_job_def("sync_tenant_batch").execute_in_process(instance=instance, tags=request.tags)
    assert again.success
    for tenant in ("acme", "globex"):
        assert materialized(instance, "messages", tenant) == [again.run_id, batch.run_id]
        assert materialized(instance, "daily_active_members", tenant) == [again.run_id, batch.run_id]
        assert materialized(instance, "members", tenant) == materialized(instance, "roles", tenant) == [batch.run_id]
    lines = [event.user_message for event in instance.all_logs(again.run_id) if event.dagster_event is None]
    assert not [line for line in lines if "channel_sync_" in line or "tenant acme" in line], lines
    assert any("tenant broken failed in its batch" in line for line in lines), lines
