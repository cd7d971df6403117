"""The hourly schedule: one incremental sync run per tenant, every hour on the hour (UTC).

A tenant whose previous run is still queued or running gets no second one: the run it has catches up on
everything new when it gets to it (the sync is incremental), so stacking a run per missed hour behind it would
only hold queue slots. One query to Dagster finds every active run, whatever the number of tenants.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from discord_sync.defs.jobs import sync_tenant_job
from discord_sync.defs.partitions import TENANT_PARTITIONS_NAME
from discord_sync.run_names import HOURLY_LANE, HOURLY_SYNC_TAG, PARTITION_TAG, with_lane

__all__ = ["HOURLY_SYNC_TAG", "hourly_run_key", "hourly_sync_schedule", "tenants_with_active_runs"]

# "Queued or running": a run in one of these states still syncs the tenant's new messages.
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def hourly_run_key(tenant_id: str, scheduled_hour: str) -> str:
    """The run key of one tenant's sync for one scheduled hour; Dagster launches a run key only once."""
    return f"hourly:{tenant_id}:{scheduled_hour}"


def tenants_with_active_runs(instance: dg.DagsterInstance) -> set[str]:
    """The tenants with a queued or running run of any job (the UI's asset materializations too), in one query."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_STATUSES))
    return {run.tags[PARTITION_TAG] for run in runs if PARTITION_TAG in run.tags}


@dg.schedule(
    job=sync_tenant_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour, sync each tenant's new messages (one run per tenant partition, none for a tenant "
    "whose run is still queued or running).",
)
def hourly_sync_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """Request one run per tenant partition without an active run, keyed by tenant and scheduled hour so a retried
    tick adds nothing; runs go in the hourly lane, which bulk runs never fill."""
    tenants = sorted(context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME))
    if not tenants:
        yield dg.SkipReason("no tenants yet: add one with `discord-sync tenant add`")
        return
    busy = tenants_with_active_runs(context.instance)
    due = [tenant for tenant in tenants if tenant not in busy]
    skipped = [tenant for tenant in tenants if tenant in busy]
    if skipped:
        context.log.info(
            f"no new run for {len(skipped)} tenant(s) whose run is still queued or running (it catches up): "
            f"{', '.join(skipped[:50])}" + (" ..." if len(skipped) > 50 else "")
        )
    if not due:
        yield dg.SkipReason(f"every tenant's run is still queued or running: {len(skipped)} tenant(s)")
        return
    scheduled_hour = context.scheduled_execution_time.isoformat()
    for tenant_id in due:
        yield dg.RunRequest(
            partition_key=tenant_id,
            run_key=hourly_run_key(tenant_id, scheduled_hour),
            tags=with_lane({HOURLY_SYNC_TAG: "true"}, HOURLY_LANE),
        )
