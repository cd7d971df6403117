"""Wires the project together for Dagster; nothing else lives here."""

import dagster as dg

from discord_sync.defs.asset_checks import tenant_asset_checks
from discord_sync.defs.assets import channels, messages
from discord_sync.defs.batch_retries import batch_retry_sensor
from discord_sync.defs.community_metrics import community_metrics, metrics_asset_checks, metrics_automation_sensor
from discord_sync.defs.freshness import tenant_freshness_sensor, tenant_sync_is_fresh
from discord_sync.defs.jobs import sync_tenant_batch_job, sync_tenant_job
from discord_sync.defs.member_assets import members, message_reactors
from discord_sync.defs.resources import resources_from_settings
from discord_sync.defs.run_failure_alerts import tenant_run_failure_alert
from discord_sync.defs.run_retention import run_history_retention
from discord_sync.defs.schedules import hourly_sync_schedule
from discord_sync.defs.sensors import new_tenant_sensor
from discord_sync.settings import Settings

# The environment is read once, here, when a Dagster process loads the code location; resources hand it down.
settings = Settings.from_env()

defs = dg.Definitions(
    assets=[channels, messages, members, message_reactors, community_metrics],
    asset_checks=[*tenant_asset_checks, tenant_sync_is_fresh, *metrics_asset_checks],
    jobs=[sync_tenant_job, sync_tenant_batch_job],
    sensors=[
        new_tenant_sensor,
        tenant_run_failure_alert,
        tenant_freshness_sensor,
        run_history_retention,
        metrics_automation_sensor,
        batch_retry_sensor,
    ],
    schedules=[hourly_sync_schedule],
    resources=resources_from_settings(settings),
    # A tenant run's steps run one after the other anyway; in-process saves a process start per step.
    executor=dg.in_process_executor,
)
