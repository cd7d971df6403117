"""A stand-in for the sync assets with the real keys and partitions, for tests of what targets them.

Sensors and schedules resolve a partitioned run request against the job's asset graph; these tests are about
which runs get requested, not about syncing, so the assets here do nothing. The job is the real `sync_tenant_job`.
"""

from __future__ import annotations

import dagster as dg

from discord_sync.defs.community_metrics import METRIC_ASSET_KEYS
from discord_sync.defs.jobs import SYNC_ASSET_KEYS, sync_tenant_batch_job, sync_tenant_job
from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import HourlyBatches, PostgresResource


def _placeholder_asset(key: str) -> dg.AssetsDefinition:
    @dg.asset(name=key, partitions_def=tenant_partitions)
    def placeholder() -> None:
        """Stands for the real sync asset of the same key."""

    return placeholder


def sync_graph_definitions(
    batch_tenants: int = 25, metric_assets: list[dg.AssetsDefinition] | None = None, **extra: object
) -> dg.Definitions:
    """Definitions with placeholder sync assets, the real `sync_tenant` and `sync_tenant_batch` jobs, the product's
    PostgreSQL resource (`DATABASE_URL`), `batch_tenants` tenants per hourly batch and whatever `extra` adds. The
    metric assets (which the batch job selects) are placeholders too unless `metric_assets` gives the real ones."""
    if metric_assets is None:
        metric_assets = [_placeholder_asset(key) for key in METRIC_ASSET_KEYS]
    return dg.Definitions(
        assets=[*(_placeholder_asset(key) for key in SYNC_ASSET_KEYS), *metric_assets],
        jobs=[sync_tenant_job, sync_tenant_batch_job],
        resources={
            "postgres": PostgresResource(database_url=dg.EnvVar("DATABASE_URL")),
            "hourly_batches": HourlyBatches(tenants=batch_tenants),
        },
        **extra,  # type: ignore[arg-type]
    )


def apply_partition_requests(
    instance: dg.DagsterInstance,
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest],
) -> None:
    """Apply a sensor's partition requests to the instance, as the sensor daemon does after a tick."""
    for request in requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
