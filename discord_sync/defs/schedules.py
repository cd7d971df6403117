"""The hourly schedule: every hour on the hour (UTC), the tenants' incremental syncs, a batch of tenants per run.

One run of `sync_tenant_batch` syncs a range of consecutive tenant partitions (`SYNC_HOURLY_BATCH_TENANTS` of
them): each tenant is still its own partition with its own materializations, and a tenant that fails is retried
alone (`defs/batch_retries.py`). A run costs seconds of Dagster start-up whatever it syncs, so a batch pays it once
for many quiet tenants instead of once per tenant.

A tenant whose previous run (a batch, its own run or a bulk one) is still queued or running gets no second one:
the run it has catches up on everything new when it gets to it (the sync is incremental), so stacking a run per
missed hour behind it would only hold queue slots. Batches are ranges in the partitions' order, split where a busy
tenant sits, so no range holds a busy tenant. The tick reads the partition keys and the active runs, two queries
whatever the number of tenants, and no tenant's history.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import dagster as dg

from discord_sync.defs.jobs import sync_tenant_batch_job
from discord_sync.defs.partitions import TENANT_PARTITIONS_NAME
from discord_sync.defs.resources import HourlyBatches
from discord_sync.run_names import (
    HOURLY_LANE,
    HOURLY_SYNC_TAG,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    with_lane,
)

__all__ = [
    "HOURLY_SYNC_TAG",
    "plan_hourly_batches",
    "hourly_batch_tags",
    "hourly_run_key",
    "hourly_sync_schedule",
    "tenants_of_run",
    "tenants_with_active_runs",
]

# "Queued or running": a run in one of these states still syncs the tenant's new messages.
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def hourly_run_key(first_tenant: str, last_tenant: str, scheduled_hour: str) -> str:
    """The run key of one batch's sync for one scheduled hour; Dagster launches a run key only once."""
    return f"hourly:{first_tenant}..{last_tenant}:{scheduled_hour}"


def hourly_batch_tags(first_tenant: str, last_tenant: str) -> dict[str, str]:
    """The tags of an hourly run of the batch job over the tenant partitions `first_tenant` .. `last_tenant`: the
    range Dagster reads, the hourly mark and the hourly lane."""
    return with_lane({HOURLY_SYNC_TAG: "true", RANGE_START_TAG: first_tenant, RANGE_END_TAG: last_tenant}, HOURLY_LANE)


def tenants_of_run(tags: Mapping[str, str], position: Mapping[str, int], tenants: Sequence[str]) -> list[str]:
    """The tenants a run syncs: its partition, or every partition of its range (`tenants` in partition order,
    `position` each one's index there). A range whose ends are no longer partitions gives none."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    start, end = position.get(tags.get(RANGE_START_TAG, "")), position.get(tags.get(RANGE_END_TAG, ""))
    if start is None or end is None:
        return []
    return list(tenants[start : end + 1])


def tenants_with_active_runs(instance: dg.DagsterInstance, tenants: Sequence[str] | None = None) -> set[str]:
    """The tenants with a queued or running run of any job (batches, the UI's asset materializations too), in one
    query; `tenants` are the partitions in order (read if not given), to expand batch runs' ranges."""
    if tenants is None:
        tenants = instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME)
    position = {tenant: index for index, tenant in enumerate(tenants)}
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_STATUSES))
    return {tenant for run in runs for tenant in tenants_of_run(run.tags, position, tenants)}


def plan_hourly_batches(tenants: Sequence[str], busy: set[str], batch_size: int) -> list[list[str]]:
    """Split the tenants (in partition order) into ranges of at most `batch_size` consecutive tenants, none busy:
    a busy tenant ends the range before it."""
    batches: list[list[str]] = []
    current: list[str] = []
    for tenant in tenants:
        if tenant in busy or len(current) == batch_size:
            if current:
                batches.append(current)
            current = []
        if tenant not in busy:
            current.append(tenant)
    if current:
        batches.append(current)
    return batches


@dg.schedule(
    job=sync_tenant_batch_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour, sync each tenant's new messages: one run per batch of SYNC_HOURLY_BATCH_TENANTS "
    "consecutive tenant partitions, none for a tenant whose run is still queued or running.",
)
def hourly_sync_schedule(
    context: dg.ScheduleEvaluationContext, hourly_batches: HourlyBatches
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """Request one run per batch of tenants without an active run, a range of partitions keyed by its ends and
    the scheduled hour so a retried tick adds nothing; runs go in the hourly lane, which bulk runs never fill."""
    tenants = context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME)
    if not tenants:
        yield dg.SkipReason("no tenants yet: add one with `discord-sync tenant add`")
        return
    busy = tenants_with_active_runs(context.instance, tenants)
    if busy:
        skipped = sorted(busy & set(tenants))
        context.log.info(
            f"no new run for {len(skipped)} tenant(s) whose run is still queued or running (it catches up): "
            f"{', '.join(skipped[:50])}" + (" ..." if len(skipped) > 50 else "")
        )
    batches = plan_hourly_batches(tenants, busy, hourly_batches.tenants)
    if not batches:
        yield dg.SkipReason(f"every tenant's run is still queued or running: {len(busy)} tenant(s)")
        return
    scheduled_hour = context.scheduled_execution_time.isoformat()
    for batch in batches:
        yield dg.RunRequest(
            run_key=hourly_run_key(batch[0], batch[-1], scheduled_hour),
            tags=hourly_batch_tags(batch[0], batch[-1]),
        )
