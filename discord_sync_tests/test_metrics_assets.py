"""The metric assets in Dagster: requested by automation after a tenant's sync, and computed from a real sync of
the emulator's guild to the values their definitions give."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.defs.community_metrics import (
    METRIC_ASSET_KEYS,
    community_metrics,
    metrics_asset_checks,
    metrics_automation_sensor,
)
from discord_sync.defs.jobs import SYNC_ASSET_KEYS
from discord_sync.defs.partitions import TENANT_PARTITIONS_NAME, tenant_partitions
from discord_sync.defs.resources import resources_from_settings
from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.run_names import RANGE_END_TAG, RANGE_START_TAG
from discord_sync.settings import Settings
from discord_sync_tests.sync_graph import sync_graph_definitions
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, materialize_tenant, sync_env
from discord_sync_tests.test_community_metrics import Guild, assert_metrics_match


@pytest.mark.integration
def test_metrics_are_requested_after_the_tenants_sync_and_only_then():
    defs = sync_graph_definitions(metric_assets=[community_metrics], sensors=[metrics_automation_sensor])
    with dg.instance_for_test() as instance:
        _deployment_with_tenants(instance, ["acme", "globex"])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        # Nothing synced yet: the metrics wait for their upstream.
        assert first.total_requested == 0
        _synced_by_a_run(instance, partition_key="acme")
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        requested = {key: second.get_requested_partitions(dg.AssetKey(key)) for key in METRIC_ASSET_KEYS}
        assert second.total_requested == len(METRIC_ASSET_KEYS)
        assert requested == {key: {"acme"} for key in METRIC_ASSET_KEYS}
        # The same sync does not request them twice.
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert third.total_requested == 0
    # The sensor that evaluates these conditions runs by default, over exactly the metric assets.
    assert metrics_automation_sensor.default_status == dg.DefaultSensorStatus.RUNNING


def _deployment_with_tenants(instance: dg.DagsterInstance, tenants: list[str]) -> None:
    """The tenants' partitions on an instance whose event log is not empty, as on any deployment that ran once:
    Dagster reads a tick's new updates by run from the event id the previous tick saw, and reads none after a tick
    that saw an empty log."""
    instance.report_runless_asset_event(dg.AssetMaterialization("channels", partition=tenants[0]))
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, tenants)


def _synced_by_a_run(instance: dg.DagsterInstance, **how: object) -> None:
    """Record a materialization of every sync asset in one run (stand-ins for the sync: the metrics' automation
    looks only at which run updated which partition): a batch run over a range (`tags`), or one tenant's run."""

    def stand_in(key: str) -> dg.AssetsDefinition:
        @dg.asset(name=key, partitions_def=tenant_partitions)
        def synced() -> None:
            """Stands for the sync's asset of the same key."""

        return synced

    assert dg.materialize([stand_in(key) for key in SYNC_ASSET_KEYS], instance=instance, **how).success  # type: ignore[arg-type]


@pytest.mark.integration
def test_a_batch_runs_syncs_request_no_metrics_however_the_ticks_fall_but_a_tenants_own_run_does():
    defs = sync_graph_definitions(metric_assets=[community_metrics], sensors=[metrics_automation_sensor])
    with dg.instance_for_test() as instance:
        _deployment_with_tenants(instance, ["acme", "globex"])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        # Each tenant's initial sync, a run of its own, is followed by its metrics.
        for tenant in ("acme", "globex"):
            _synced_by_a_run(instance, partition_key=tenant)
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_requested_partitions(dg.AssetKey("channel_daily_activity")) == {"acme", "globex"}
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert quiet.total_requested == 0
        # A tick that falls after an hourly batch recorded its tenants' syncs but before their metrics: the batch
        # computes them itself, so nothing is requested (plain eager() would ask for both tenants here).
        _synced_by_a_run(instance, tags={RANGE_START_TAG: "acme", RANGE_END_TAG: "globex"})
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
        assert third.total_requested == 0
        # A tenant's own run again (a reset, `sync start`, a tenant retried alone after its batch).
        _synced_by_a_run(instance, partition_key="globex")
        fourth = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=third.cursor)
        requested = {key: fourth.get_requested_partitions(dg.AssetKey(key)) for key in METRIC_ASSET_KEYS}
        assert requested == {key: {"globex"} for key in METRIC_ASSET_KEYS}


@pytest.fixture
def emulator():
    with Emulator(guilds=[GuildSpec(seed=5, scale=0.05)], token=TEST_TOKEN, rate_limits=False) as running:
        yield running


def test_metrics_of_a_synced_guild_equal_their_definitions(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator)
    create_tenant(engine, "acme", emulator.guild_ids[0])
    with dg.instance_for_test() as instance:
        assert materialize_tenant("acme", instance=instance).success
        instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, ["acme"])
        result = dg.materialize(
            [community_metrics, *metrics_asset_checks],
            partition_key="acme",
            instance=instance,
            resources=resources_from_settings(Settings.from_env()),
            selection=list(METRIC_ASSET_KEYS),
        )
        assert result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"daily_messages_add_up": True, "daily_active_members_add_up": True}
        materializations = [e.materialization for e in result.get_asset_materialization_events()]
        metadata = {m.asset_key.to_user_string(): m.metadata for m in materializations}
        # A second run with nothing changed recomputes nothing; a metric row that disagrees with the copy fails
        # the check.
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE channel_daily_activity SET messages = messages + 1 WHERE tenant_id = 'acme' "
                    "AND (day, channel_id) = (SELECT day, channel_id FROM channel_daily_activity "
                    "WHERE tenant_id = 'acme' ORDER BY day, channel_id LIMIT 1)"
                )
            )
        again = dg.materialize(
            [community_metrics, *metrics_asset_checks],
            partition_key="acme",
            instance=instance,
            resources=resources_from_settings(Settings.from_env()),
            selection=list(METRIC_ASSET_KEYS),
        )
        assert {e.check_name: e.passed for e in again.get_asset_check_evaluations()} == {
            "daily_messages_add_up": False,
            "daily_active_members_add_up": True,
        }
        assert [e.materialization.metadata["changed_days"].value for e in again.get_asset_materialization_events()][
            0
        ] == 0
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE channel_daily_activity SET messages = messages - 1 WHERE tenant_id = 'acme' "
                    "AND (day, channel_id) = (SELECT day, channel_id FROM channel_daily_activity "
                    "WHERE tenant_id = 'acme' ORDER BY day, channel_id LIMIT 1)"
                )
            )
    guild = Guild.stored(engine, "acme")
    assert sum(m.counted for m in guild.msgs.values()) > 50
    with engine.connect() as conn:
        assert_metrics_match(guild, conn, tenant="acme")
    assert metadata["daily_active_members"]["changed_days"].value > 0
    assert "active_members_28_days" in metadata["daily_active_members"]


def test_a_sync_that_adds_one_message_recomputes_only_the_days_it_wrote(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator)
    create_tenant(engine, "acme", emulator.guild_ids[0])
    resources = resources_from_settings(Settings.from_env())
    with dg.instance_for_test() as instance:
        assert materialize_tenant("acme", instance=instance).success

        def metrics_run() -> dict:
            result = dg.materialize([community_metrics], partition_key="acme", instance=instance, resources=resources)
            assert result.success
            return dict(result.get_asset_materialization_events()[0].materialization.metadata)

        metrics_run()
        with engine.connect() as conn:
            before = dict(
                conn.execute(
                    sa.text("SELECT day, computed_at FROM daily_active_members WHERE tenant_id = 'acme'")
                ).all()
            )
        channel = int(emulator.client.channel_by_name(emulator.guild_ids[0], "general")["id"])
        emulator.client.add_message(channel, "one more")
        assert materialize_tenant("acme", instance=instance).success
        metadata = metrics_run()
        with engine.connect() as conn:
            after = dict(
                conn.execute(
                    sa.text("SELECT day, computed_at FROM daily_active_members WHERE tenant_id = 'acme'")
                ).all()
            )
            today = conn.execute(sa.text("SELECT (now() AT TIME ZONE 'UTC')::date")).scalar_one()
    # The new message's day only: the hourly re-read of the last 24 h found nothing changed and wrote nothing.
    assert metadata["changed_days"].value == 1
    recomputed = {day for day, at in after.items() if at != before.get(day)}
    assert today in recomputed
    assert all(day >= today - timedelta(days=28) for day in recomputed)
    assert len(after) - len(recomputed) > 10
    guild = Guild.stored(engine, "acme")
    with engine.connect() as conn:
        assert_metrics_match(guild, conn, tenant="acme")


@pytest.fixture
def two_guilds():
    guilds = [GuildSpec(seed=5, scale=0.02), GuildSpec(seed=6, scale=0.02)]
    with Emulator(guilds=guilds, token=TEST_TOKEN, rate_limits=False) as running:
        yield running


def test_one_run_computes_each_tenants_metrics_for_its_own_partition(engine, two_guilds, monkeypatch):
    # What automation launches after an hourly batch: a backfill whose runs take a range of tenants each.
    sync_env(monkeypatch, two_guilds)
    tenants = ["acme", "globex"]
    for tenant, guild_id in zip(tenants, two_guilds.guild_ids, strict=True):
        create_tenant(engine, tenant, guild_id)
    with dg.instance_for_test() as instance:
        for tenant in tenants:
            assert materialize_tenant(tenant, instance=instance).success
        instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, tenants)
        defs = dg.Definitions(
            assets=[community_metrics],
            asset_checks=metrics_asset_checks,
            jobs=[dg.define_asset_job("metrics", selection=list(METRIC_ASSET_KEYS))],
            resources=resources_from_settings(Settings.from_env()),
        )
        result = defs.resolve_job_def("metrics").execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": "acme", "dagster/asset_partition_range_end": "globex"},
        )
        assert result.success
        for tenant in tenants:
            for key in METRIC_ASSET_KEYS:
                found = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[tenant]), limit=5
                ).records
                assert [record.run_id for record in found] == [result.run_id], (tenant, key)
    for tenant in tenants:
        guild = Guild.stored(engine, tenant)
        assert sum(m.counted for m in guild.msgs.values()) > 0
        with engine.connect() as conn:
            assert_metrics_match(guild, conn, tenant=tenant)
