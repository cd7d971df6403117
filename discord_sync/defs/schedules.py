"""The hourly schedule: one incremental sync run per tenant, every hour on the hour (UTC)."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from discord_sync.defs.jobs import sync_tenant_job
from discord_sync.defs.partitions import TENANT_PARTITIONS_NAME

HOURLY_SYNC_TAG = "discord_sync/hourly"


def hourly_run_key(tenant_id: str, scheduled_hour: str) -> str:
    """The run key of one tenant's sync for one scheduled hour; Dagster launches a run key only once."""
    return f"hourly:{tenant_id}:{scheduled_hour}"


@dg.schedule(
    job=sync_tenant_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour, sync each tenant's new messages (one run per tenant partition).",
)
def hourly_sync_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """Request one run per tenant partition, keyed by tenant and scheduled hour so a retried tick adds nothing."""
    tenants = sorted(context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME))
    if not tenants:
        yield dg.SkipReason("no tenants yet: add one with `discord-sync tenant add`")
        return
    scheduled_hour = context.scheduled_execution_time.isoformat()
    for tenant_id in tenants:
        yield dg.RunRequest(
            partition_key=tenant_id,
            run_key=hourly_run_key(tenant_id, scheduled_hour),
            tags={HOURLY_SYNC_TAG: "true"},
        )
