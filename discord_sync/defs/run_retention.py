"""History retention: finished Dagster runs (and their event logs) older than `DAGSTER_RUN_RETENTION_DAYS` are
deleted; Dagster's `retention:` setting covers only schedule and sensor ticks, so this sensor does the same for runs
through the instance's public `delete_run`. The same hourly tick prunes the product's own history tables
(`store/retention.py`: channel attempts, stale running attempts and runs, `sync_runs`, `api_audit_log`), telling
them which runs Dagster still has unfinished so that no live run's attempts are closed."""

# No `from __future__ import annotations`: Dagster validates the resource annotation as a real type.

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from discord_sync.defs.resources import PostgresResource, RunRetention
from discord_sync.store.retention import prune_history

# Bounds one tick's deletions; a long backlog (retention just switched on) drains over the following hours.
MAX_RUNS_PER_TICK = 500
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def live_run_ids(instance: dg.DagsterInstance) -> set[str]:
    """The ids of the runs Dagster has not finished: their attempts may still be running."""
    return {
        record.dagster_run.run_id for record in instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED))
    }


def delete_runs_older_than(instance: dg.DagsterInstance, *, days: int, now: float, limit: int) -> list[str]:
    """Delete up to `limit` finished runs last updated more than `days` ago; return their ids."""
    cutoff = datetime.fromtimestamp(now, UTC) - timedelta(days=days)
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=FINISHED, updated_before=cutoff), limit=limit, ascending=True
    )
    for record in records:
        instance.delete_run(record.dagster_run.run_id)
    return [record.dagster_run.run_id for record in records]


@dg.sensor(
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Deletes finished runs (and their logs) older than DAGSTER_RUN_RETENTION_DAYS (90 by default), and "
    "prunes the sync's history tables (channel attempts, stale running attempts, sync_runs, api_audit_log).",
)
def run_history_retention(
    context: dg.SensorEvaluationContext, run_retention: RunRetention, postgres: PostgresResource
) -> dg.SkipReason:
    """Prune old run history; never requests a run."""
    live = live_run_ids(context.instance)
    with postgres.engine().begin() as conn:
        pruned = prune_history(conn, run_retention.policy(), live_run_ids=live)
    deleted = delete_runs_older_than(
        context.instance, days=run_retention.days, now=time.time(), limit=MAX_RUNS_PER_TICK
    )
    return dg.SkipReason(
        f"deleted {len(deleted)} finished run(s) older than {run_retention.days} days; history: {pruned.describe()}"
    )
