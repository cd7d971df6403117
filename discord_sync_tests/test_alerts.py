"""Alerts an operator gets: a failed tenant sync and a stale tenant each post a JSON webhook to a real receiver."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.defs.alert_webhook import AlertWebhook, AlertWebhookError
from discord_sync.defs.freshness import CHECK_NAME, judge_freshness, tenant_freshness_sensor
from discord_sync.defs.jobs import SYNC_ASSET_KEYS, sync_tenant_job
from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import PostgresResource, SyncFreshness
from discord_sync.defs.run_failure_alerts import failure_summary, tenant_run_failure_alert
from discord_sync_tests.alert_receiver import alert_receiver

HOUR = 3600.0


@pytest.mark.unit
@pytest.mark.parametrize(
    ("last_success", "added_at", "now", "stale", "age"),
    [
        (None, 0.0, 1 * HOUR, False, 1.0),  # new tenant, first sync still due
        (None, 0.0, 3 * HOUR, True, 3.0),  # added 3 h ago, never synced
        (2 * HOUR, 0.0, 3 * HOUR, False, 1.0),  # synced an hour ago
        (0.5 * HOUR, 0.0, 3 * HOUR, True, 2.5),  # last success 2.5 h ago
        (3 * HOUR, 0.0, 2 * HOUR, False, 0.0),  # a clock a little behind never counts as stale
    ],
)
def test_a_tenant_is_stale_once_the_set_age_passed_since_its_last_success_or_its_addition(
    last_success, added_at, now, stale, age
):
    state = judge_freshness("acme", last_success=last_success, added_at=added_at, now=now, max_age_hours=2, run_id=None)
    assert (state.stale, state.age_hours) == (stale, age)


@pytest.mark.unit
def test_failure_summary_names_each_failed_step_with_the_first_line_of_its_error():
    summary = failure_summary(
        [
            ("channels", "dagster._core.definitions.events.Failure: Discord rejected the bot token (401)\nTraceback"),
            ("messages", ""),
        ],
        "run failed",
    )
    assert summary == "channels failed: Discord rejected the bot token (401); messages failed: no message"
    assert failure_summary([], "Execution of run failed.") == "Execution of run failed."


@pytest.mark.unit
def test_an_unreachable_webhook_fails_loudly_without_showing_its_path():
    webhook = AlertWebhook(url="http://127.0.0.1:9/hooks/secret-token")
    with pytest.raises(AlertWebhookError, match="127.0.0.1:9") as raised:
        webhook.post(payload={"alert": "test"})
    assert "secret-token" not in str(raised.value)


def _sync_assets_where_channels_fails() -> list[dg.AssetsDefinition]:
    """The sync's asset keys and partitions; `channels` fails the way a rejected bot token does."""

    @dg.asset(name="channels", partitions_def=tenant_partitions)
    def channels() -> None:
        """Stands for the catalog step; fails as the real one does on a 401."""
        raise dg.Failure("Discord rejected the bot token (401 Unauthorized): check DISCORD_BOT_TOKEN")

    def placeholder(key: str) -> dg.AssetsDefinition:
        @dg.asset(name=key, partitions_def=tenant_partitions, deps=["channels"])
        def asset() -> None:
            """Stands for a sync asset downstream of the catalog."""

        return asset

    return [channels, *(placeholder(key) for key in SYNC_ASSET_KEYS if key != "channels")]


@pytest.mark.integration
def test_a_failed_tenant_sync_posts_tenant_run_and_plain_error_to_the_webhook():
    with alert_receiver() as receiver, dg.instance_for_test() as instance:
        resources = {"alert_webhook": AlertWebhook(url=receiver.url)}
        defs = dg.Definitions(
            assets=_sync_assets_where_channels_fails(),
            jobs=[sync_tenant_job],
            sensors=[tenant_run_failure_alert],
            resources=resources,
        )
        instance.add_dynamic_partitions("tenants", ["acme"])

        def tick(cursor: str | None):
            context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources)
            return tenant_run_failure_alert.evaluate_tick(context)

        # The first tick only sets where the sensor starts reading the event log, as the daemon's does.
        cursor = tick(None).cursor
        result = defs.resolve_job_def("sync_tenant").execute_in_process(
            instance=instance, partition_key="acme", raise_on_error=False
        )
        assert not result.success
        tick(cursor)

    assert receiver.alerts == [
        {
            "alert": "run_failed",
            "tenant": "acme",
            "run_id": result.run_id,
            "job": "sync_tenant",
            "error": "channels failed: Discord rejected the bot token (401 Unauthorized): check DISCORD_BOT_TOKEN",
        }
    ]


@pytest.mark.integration
def test_a_stale_tenant_shows_a_failed_freshness_check_and_alerts_once_until_it_syncs(engine, database_url):
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tenants (id, name, guild_id, created_at) VALUES "
                "('acme', 'Acme', 1, now() - interval '3 hours'), "
                "('beta', 'Beta', 2, now() - interval '3 hours'), "
                "('gamma', 'Gamma', 3, now())"
            )
        )
    with alert_receiver() as receiver, dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tenants", ["acme", "beta", "gamma"])
        # beta synced just now; acme never did in 3 h; gamma was only just added.
        instance.report_runless_asset_event(dg.AssetMaterialization("messages", partition="beta"))
        resources = {
            "postgres": PostgresResource(database_url=database_url),
            "freshness": SyncFreshness(max_age_hours=2),
            "alert_webhook": AlertWebhook(url=receiver.url),
        }

        def tick(cursor: str | None) -> dg.SensorResult:
            context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            return tenant_freshness_sensor.evaluate_tick(context)

        first = tick(None)
        [evaluation] = first.asset_events
        assert (evaluation.check_name, evaluation.partition, evaluation.passed) == (CHECK_NAME, "acme", False)
        assert [(a["alert"], a["tenant"]) for a in receiver.alerts] == [("tenant_stale", "acme")]
        assert "never synced" in receiver.alerts[0]["error"] and receiver.alerts[0]["hours_since_last_success"] >= 3
        # Stored as the daemon stores a sensor's asset events: the tenant's freshness check is failed (red in the UI).
        instance.report_runless_asset_event(evaluation)
        record = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(dg.AssetKey("messages"), CHECK_NAME)
        )
        assert record.status.value == "FAILED" and record.partition == "acme", record

        second = tick(first.cursor)
        assert second.asset_events == [] and len(receiver.alerts) == 1  # still stale: no second alert

        instance.report_runless_asset_event(dg.AssetMaterialization("messages", partition="acme"))
        third = tick(second.cursor)
        assert third.cursor == "[]" and len(receiver.alerts) == 1
