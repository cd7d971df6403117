"""`sync_runs`: one row per run that synced a tenant's messages, its totals kept current while it runs.

The progress reporter (`sync/progress_reporter.py`) writes the totals every few seconds and once at the end; the
API's sync status and history, the metrics endpoint and onboarding read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from discord_sync.store.schema import sync_runs
from discord_sync.store.sync_status import SUCCESSFUL_OUTCOMES, RunOutcome

TOTAL_COLUMNS = (
    "channels_total",
    "channels_unchanged",
    "channels_complete",
    "channels_skipped",
    "channels_failed",
    "channels_running",
    "messages",
    "messages_per_second",
    "discord_requests",
    "rate_limit_hits",
    "invalid_requests",
    "limiter_wait_seconds",
)


@dataclass(frozen=True)
class SyncRun:
    """One run's row: when, how it ended (`running` until it does), its counts and its errors."""

    run_id: str
    tenant_id: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    outcome: RunOutcome
    channels_total: int
    channels_unchanged: int
    channels_complete: int
    channels_skipped: int
    channels_failed: int
    channels_running: int
    messages: int
    messages_per_second: float
    discord_requests: int
    rate_limit_hits: int
    invalid_requests: int
    limiter_wait_seconds: float
    error: str | None


def _sync_run(row: sa.RowMapping) -> SyncRun:
    return SyncRun(**{**row, "outcome": RunOutcome(row["outcome"])})


def start_run(conn: sa.Connection, tenant_id: str, run_id: str) -> None:
    """Open the run's row; a retried step of the same run starts it again from zero."""
    fresh: dict[str, Any] = {column: 0 for column in TOTAL_COLUMNS}
    conn.execute(
        pg_insert(sync_runs)
        .values(run_id=run_id, tenant_id=tenant_id, outcome=RunOutcome.RUNNING, **fresh)
        .on_conflict_do_update(
            index_elements=["run_id"],
            set_={
                **fresh,
                "outcome": RunOutcome.RUNNING,
                "finished_at": None,
                "error": None,
                "updated_at": sa.func.now(),
            },
        )
    )


def update_run(conn: sa.Connection, run_id: str, totals: dict[str, Any]) -> None:
    """Store the run's totals so far (keys from `TOTAL_COLUMNS`); a finished run's final totals stay."""
    conn.execute(
        sync_runs.update()
        .where(sync_runs.c.run_id == run_id, sync_runs.c.finished_at.is_(None))
        .values(**totals, updated_at=sa.func.now())
    )


def finish_run(
    conn: sa.Connection, run_id: str, *, outcome: RunOutcome, totals: dict[str, Any], error: str | None = None
) -> None:
    """Close the run's row with its outcome (`complete`, `partial` or `failed`), final totals and errors."""
    conn.execute(
        sync_runs.update()
        .where(sync_runs.c.run_id == run_id)
        .values(**totals, outcome=outcome, error=error, finished_at=sa.func.now(), updated_at=sa.func.now())
    )


def run_history(conn: sa.Connection, tenant_id: str, *, limit: int, offset: int = 0) -> list[SyncRun]:
    """The tenant's runs, newest first, one page."""
    rows = conn.execute(
        sa.select(sync_runs)
        .where(sync_runs.c.tenant_id == tenant_id)
        .order_by(sync_runs.c.started_at.desc(), sync_runs.c.run_id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [_sync_run(row) for row in rows]


def get_run(conn: sa.Connection, run_id: str) -> SyncRun | None:
    """One run's row, if the run got as far as syncing messages."""
    row = conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == run_id)).mappings().first()
    return _sync_run(row) if row else None


def first_success(conn: sa.Connection, tenant_id: str) -> datetime | None:
    """When the tenant's first run that completed (fully or partly) finished: the end of its onboarding."""
    return conn.execute(
        sa.select(sa.func.min(sync_runs.c.finished_at)).where(
            sync_runs.c.tenant_id == tenant_id, sync_runs.c.outcome.in_(SUCCESSFUL_OUTCOMES)
        )
    ).scalar()


_METRICS_SQL = sa.text(
    """
    SELECT t.id AS tenant_id,
           count(r.run_id) FILTER (WHERE r.outcome = :running) AS runs_running,
           count(r.run_id) FILTER (WHERE r.outcome = :complete) AS runs_complete,
           count(r.run_id) FILTER (WHERE r.outcome = :partial) AS runs_partial,
           count(r.run_id) FILTER (WHERE r.outcome = :failed) AS runs_failed,
           CAST(coalesce(sum(r.messages), 0) AS bigint) AS messages,
           CAST(coalesce(sum(r.discord_requests), 0) AS bigint) AS discord_requests,
           CAST(coalesce(sum(r.rate_limit_hits), 0) AS bigint) AS rate_limit_hits,
           CAST(coalesce(sum(r.invalid_requests), 0) AS bigint) AS invalid_requests,
           extract(epoch FROM now() - max(r.finished_at) FILTER (WHERE r.outcome = :complete))
               AS seconds_since_success
    FROM tenants t
    LEFT JOIN sync_runs r ON r.tenant_id = t.id
    GROUP BY t.id
    ORDER BY t.id
    """
)


def run_metrics(conn: sa.Connection) -> list[dict[str, Any]]:
    """Per tenant: runs by outcome (`runs_<outcome>` for each `RunOutcome`), messages, Discord requests, 429s,
    invalid requests, seconds since a full sync."""
    outcomes = {outcome.value: outcome.value for outcome in RunOutcome}
    return [dict(row) for row in conn.execute(_METRICS_SQL, outcomes).mappings()]
