"""Retention of the sync's own history, so that no table grows forever (the hourly retention sensor runs it).

- channel attempts (`channel_sync_jobs`): complete and skipped ones after `SYNC_ATTEMPT_RETENTION_DAYS`, failed ones
  after `SYNC_FAILED_ATTEMPT_RETENTION_DAYS`;
- attempts and runs (`sync_runs`) still `running` with no progress for `SYNC_STALE_ATTEMPT_HOURS` and no live
  Dagster run (the process died or the run was canceled before it could record its end) are closed as failed, and
  then age like any failed one;
- runs (`sync_runs`) after `SYNC_RUN_HISTORY_RETENTION_DAYS`, except each tenant's first successful run (when its
  onboarding ended) and its newest run;
- the API's audit log (`api_audit_log`) after `API_AUDIT_RETENTION_DAYS`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from discord_sync.store.schema import api_audit_log, channel_sync_jobs, sync_progress, sync_runs
from discord_sync.store.sync_status import ChannelSyncStatus

ABANDONED_ATTEMPT = "abandoned: its run ended (process died or run canceled) before recording this attempt's end"
ABANDONED_RUN = "abandoned: the run ended (process died or run canceled) before recording its end"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of history is kept (the settings named in the module's docstring)."""

    attempt_days: int = 7
    failed_attempt_days: int = 30
    stale_attempt_hours: float = 24.0
    sync_run_days: int = 90
    audit_days: int = 365


@dataclass(frozen=True)
class Pruned:
    """What one pass of `prune_history` closed and deleted."""

    stale_attempts_closed: int
    stale_runs_closed: int
    attempts_deleted: int
    failed_attempts_deleted: int
    sync_runs_deleted: int
    audit_entries_deleted: int

    def describe(self) -> str:
        """One line for the sensor's tick."""
        return ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in asdict(self).items())


def delete_old_attempts(
    conn: sa.Connection,
    *,
    older_than: timedelta = timedelta(days=7),
    statuses: Iterable[ChannelSyncStatus] = (ChannelSyncStatus.COMPLETE, ChannelSyncStatus.SKIPPED),
) -> int:
    """Delete attempts (`channel_sync_jobs` rows) of the given finished statuses that finished more than
    `older_than` ago."""
    result = conn.execute(
        channel_sync_jobs.delete().where(
            channel_sync_jobs.c.status.in_(list(statuses)),
            channel_sync_jobs.c.finished_at < sa.func.now() - older_than,
        )
    )
    return result.rowcount


def close_stale_attempts(conn: sa.Connection, *, idle_for: timedelta, live_run_ids: Collection[str]) -> tuple[int, int]:
    """Mark `failed` the attempts and runs still `running` that made no progress for `idle_for` and whose run is not
    among `live_run_ids` (Dagster's unfinished runs); returns (attempts, runs) closed.

    Both conditions, because a run outside Dagster's instance (an in-process materialize) is never in
    `live_run_ids` but writes its progress every few seconds while it lives.
    """
    live = list(live_run_ids)
    idle_attempt = sa.func.coalesce(channel_sync_jobs.c.progress_at, channel_sync_jobs.c.started_at)
    stale = conn.execute(
        channel_sync_jobs.update()
        .where(
            channel_sync_jobs.c.status == ChannelSyncStatus.RUNNING,
            idle_attempt < sa.func.now() - idle_for,
            sa.or_(channel_sync_jobs.c.run_id.is_(None), channel_sync_jobs.c.run_id.not_in(live)),
        )
        .values(status=ChannelSyncStatus.FAILED, finished_at=sa.func.now(), error=ABANDONED_ATTEMPT)
        .returning(channel_sync_jobs.c.tenant_id, channel_sync_jobs.c.channel_id)
    ).all()
    for tenant_id, channel_id in set(stale):
        # The channel's own status stops claiming a sync that no longer runs; its checkpoint stays.
        conn.execute(
            sync_progress.update()
            .where(
                sync_progress.c.tenant_id == tenant_id,
                sync_progress.c.channel_id == channel_id,
                sync_progress.c.status == ChannelSyncStatus.RUNNING,
            )
            .values(status=ChannelSyncStatus.FAILED, last_error=ABANDONED_ATTEMPT, updated_at=sa.func.now())
        )
    runs = conn.execute(
        sync_runs.update()
        .where(
            sync_runs.c.outcome == "running",
            sync_runs.c.updated_at < sa.func.now() - idle_for,
            sync_runs.c.run_id.not_in(live),
        )
        .values(outcome="failed", finished_at=sa.func.now(), channels_running=0, error=ABANDONED_RUN)
    ).rowcount
    return len(stale), runs


def delete_old_sync_runs(conn: sa.Connection, *, older_than: timedelta) -> int:
    """Delete finished runs (`sync_runs`) that ended more than `older_than` ago, keeping each tenant's first
    successful run (the end of its onboarding) and its newest run."""
    runs = sync_runs.alias("runs")  # the subqueries' own scan, never correlated with the rows being deleted
    first_success = (
        sa.select(runs.c.run_id)
        .where(runs.c.outcome.in_(("complete", "partial")))
        .order_by(runs.c.tenant_id, runs.c.finished_at)
        .ext(postgresql.distinct_on(runs.c.tenant_id))
        .correlate(None)
    )
    newest = (
        sa.select(runs.c.run_id)
        .order_by(runs.c.tenant_id, runs.c.started_at.desc())
        .ext(postgresql.distinct_on(runs.c.tenant_id))
        .correlate(None)
    )
    return conn.execute(
        sync_runs.delete().where(
            sync_runs.c.outcome != "running",
            sync_runs.c.finished_at < sa.func.now() - older_than,
            sync_runs.c.run_id.not_in(first_success),
            sync_runs.c.run_id.not_in(newest),
        )
    ).rowcount


def delete_old_audit_entries(conn: sa.Connection, *, older_than: timedelta) -> int:
    """Delete API audit log entries recorded more than `older_than` ago."""
    return conn.execute(api_audit_log.delete().where(api_audit_log.c.at < sa.func.now() - older_than)).rowcount


def prune_history(conn: sa.Connection, policy: RetentionPolicy, *, live_run_ids: Collection[str]) -> Pruned:
    """One retention pass over every table the sync's history grows: stale work closed first, then old rows go."""
    attempts_closed, runs_closed = close_stale_attempts(
        conn, idle_for=timedelta(hours=policy.stale_attempt_hours), live_run_ids=live_run_ids
    )
    return Pruned(
        stale_attempts_closed=attempts_closed,
        stale_runs_closed=runs_closed,
        attempts_deleted=delete_old_attempts(conn, older_than=timedelta(days=policy.attempt_days)),
        failed_attempts_deleted=delete_old_attempts(
            conn, older_than=timedelta(days=policy.failed_attempt_days), statuses=(ChannelSyncStatus.FAILED,)
        ),
        sync_runs_deleted=delete_old_sync_runs(conn, older_than=timedelta(days=policy.sync_run_days)),
        audit_entries_deleted=delete_old_audit_entries(conn, older_than=timedelta(days=policy.audit_days)),
    )
