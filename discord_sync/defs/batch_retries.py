"""A tenant that failed in its hourly batch is retried alone, at once, in its own run.

The batch run names its failed tenants in its `discord_sync/failed_tenants` tag and succeeds for the others. When
it ends, this sensor requests one single-tenant run of `sync_tenant` per failed tenant (keyed by the batch run and
the tenant, so Dagster launches it once), in the hourly lane: that run has its own status, the asset checks and the
step retries of a tenant's run, and a second failure shows on that tenant's partition alone.
"""

from __future__ import annotations

import dagster as dg

from discord_sync.defs.jobs import sync_tenant_batch_job, sync_tenant_job
from discord_sync.run_names import BATCH_RETRY_OF_TAG, FAILED_TENANTS_TAG, HOURLY_LANE, HOURLY_SYNC_TAG, with_lane


def batch_retry_requests(run_id: str, tags: dict[str, str]) -> list[dg.RunRequest]:
    """One single-tenant run request per tenant the batch run `run_id` names as failed in its tags."""
    failed = [tenant for tenant in tags.get(FAILED_TENANTS_TAG, "").split(",") if tenant]
    return [
        dg.RunRequest(
            partition_key=tenant,
            run_key=f"batch_retry:{run_id}:{tenant}",
            tags=with_lane({HOURLY_SYNC_TAG: "true", BATCH_RETRY_OF_TAG: run_id}, HOURLY_LANE),
        )
        for tenant in failed
    ]


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[sync_tenant_batch_job],
    request_job=sync_tenant_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retries alone, in its own run, each tenant that failed in an hourly batch run.",
)
def batch_retry_sensor(context: dg.RunStatusSensorContext) -> list[dg.RunRequest] | dg.SkipReason:
    """After a batch run ends, request a run for each tenant it names as failed."""
    run = context.dagster_run
    requests = batch_retry_requests(run.run_id, dict(run.tags))
    if not requests:
        return dg.SkipReason(f"batch run {run.run_id}: every tenant synced")
    context.log.info(f"batch run {run.run_id}: retrying alone {[r.partition_key for r in requests]}")
    return requests
