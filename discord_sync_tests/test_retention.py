"""Retention of the sync's history: attempts (finished, failed, stale running), `sync_runs` and `api_audit_log`,
each after its own window, and the hourly sensor that runs it against a real Dagster instance."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import sqlalchemy as sa

from discord_sync.defs.resources import PostgresResource, RunRetention
from discord_sync.defs.run_retention import run_history_retention
from discord_sync.store.retention import ABANDONED_ATTEMPT, RetentionPolicy, delete_old_attempts, prune_history
from discord_sync.store.schema import api_audit_log, channel_sync_jobs, sync_progress, sync_runs
from discord_sync.store.sync_runs import first_success
from discord_sync.store.tenants import add_tenant


@dg.op
def answer() -> int:
    """A trivial step, for a run Dagster has and has not finished."""
    return 42


@dg.job
def trivial_job() -> None:
    answer()


JOBS = [
    # (channel_id, status, finished days ago or None) -> kept?
    (1, "complete", 8, False),
    (2, "skipped", 30, False),
    (3, "complete", 6, True),
    (4, "failed", 30, True),
    (5, "running", None, True),
    (6, "complete", None, True),
]


def insert_jobs(conn: sa.Connection) -> None:
    add_tenant(conn, "acme", 42)
    for channel_id, status, days_ago, _ in JOBS:
        conn.execute(
            sa.text(
                "INSERT INTO channel_sync_jobs (tenant_id, channel_id, run_id, status, started_at, finished_at) "
                "VALUES ('acme', :channel, 'run-1', :status, now() - interval '40 days', "
                "CASE WHEN CAST(:days AS int) IS NULL THEN NULL ELSE now() - make_interval(days => :days) END)"
            ),
            {"channel": channel_id, "status": status, "days": days_ago},
        )


def remaining_channels(conn: sa.Connection) -> list[int]:
    return list(conn.execute(sa.text("SELECT channel_id FROM channel_sync_jobs ORDER BY channel_id")).scalars())


def test_completed_jobs_older_than_a_week_are_deleted_and_the_rest_kept(engine):
    with engine.begin() as conn:
        insert_jobs(conn)
        deleted = delete_old_attempts(conn)
        assert deleted == 2
        assert remaining_channels(conn) == [channel for channel, *_, kept in JOBS if kept]


def test_a_second_pass_deletes_nothing(engine):
    with engine.begin() as conn:
        insert_jobs(conn)
        delete_old_attempts(conn)
        assert delete_old_attempts(conn) == 0


def test_the_window_is_a_parameter(engine):
    with engine.begin() as conn:
        insert_jobs(conn)
        assert delete_old_attempts(conn, older_than=timedelta(days=1)) == 3
        assert remaining_channels(conn) == [4, 5, 6]


def insert_job(conn: sa.Connection, channel_id: int, status: str, run_id: str, *, finished_days=None, idle_hours=None):
    """An attempt that finished `finished_days` ago, or (running) last made progress `idle_hours` ago."""
    conn.execute(
        sa.text(
            "INSERT INTO channel_sync_jobs (tenant_id, channel_id, run_id, status, started_at, finished_at, "
            "progress_at) VALUES ('acme', :channel, :run, :status, now() - interval '40 days', "
            "CASE WHEN CAST(:days AS int) IS NULL THEN NULL ELSE now() - make_interval(days => :days) END, "
            "CASE WHEN CAST(:hours AS int) IS NULL THEN NULL ELSE now() - make_interval(hours => :hours) END)"
        ),
        {"channel": channel_id, "run": run_id, "status": status, "days": finished_days, "hours": idle_hours},
    )


def insert_run(conn: sa.Connection, run_id: str, outcome: str, *, days_ago: float, tenant: str = "acme") -> None:
    finished = None if outcome == "running" else sa.func.now() - timedelta(days=days_ago)
    conn.execute(
        sync_runs.insert().values(
            run_id=run_id,
            tenant_id=tenant,
            outcome=outcome,
            started_at=sa.func.now() - timedelta(days=days_ago, minutes=5),
            updated_at=sa.func.now() - timedelta(days=days_ago),
            finished_at=finished,
        )
    )


def attempts(conn: sa.Connection) -> dict[int, tuple[str, str | None]]:
    rows = conn.execute(
        sa.select(channel_sync_jobs.c.channel_id, channel_sync_jobs.c.status, channel_sync_jobs.c.error)
    )
    return {row.channel_id: (row.status, row.error) for row in rows}


def test_failed_attempts_go_after_their_own_window_and_finished_ones_after_theirs(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
        insert_job(conn, 1, "failed", "r", finished_days=40)
        insert_job(conn, 2, "failed", "r", finished_days=10)
        insert_job(conn, 3, "complete", "r", finished_days=10)
        insert_job(conn, 4, "skipped", "r", finished_days=3)
        pruned = prune_history(conn, RetentionPolicy(attempt_days=7, failed_attempt_days=30), live_run_ids=set())
        assert (pruned.failed_attempts_deleted, pruned.attempts_deleted) == (1, 1)
        assert sorted(attempts(conn)) == [2, 4]
        pruned = prune_history(conn, RetentionPolicy(attempt_days=7, failed_attempt_days=5), live_run_ids=set())
        assert sorted(attempts(conn)) == [4] and pruned.failed_attempts_deleted == 1


def test_running_attempts_idle_past_the_limit_with_no_live_run_are_closed_as_failed_then_age_out(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
        insert_job(conn, 1, "running", "dead-run", idle_hours=30)
        insert_job(conn, 2, "running", "live-run", idle_hours=30)  # Dagster still has its run: never closed
        insert_job(conn, 3, "running", "dead-run", idle_hours=2)  # still writing progress: alive
        insert_job(conn, 4, "running", "dead-run")  # never wrote progress; started 40 days ago
        conn.execute(
            sa.text(
                "INSERT INTO sync_progress (tenant_id, channel_id, status) VALUES ('acme', 1, 'running'), "
                "('acme', 3, 'running')"
            )
        )
        insert_run(conn, "dead-run", "running", days_ago=2)
        insert_run(conn, "live-run", "running", days_ago=2)
        insert_run(conn, "fresh-run", "running", days_ago=0.01)
        pruned = prune_history(conn, RetentionPolicy(stale_attempt_hours=24), live_run_ids={"live-run"})
        assert (pruned.stale_attempts_closed, pruned.stale_runs_closed) == (2, 1)
        state = attempts(conn)
        assert state[1] == state[4] == ("failed", ABANDONED_ATTEMPT)
        assert state[2][0] == state[3][0] == "running"
        progress = dict(conn.execute(sa.select(sync_progress.c.channel_id, sync_progress.c.status)).all())
        assert progress == {1: "failed", 3: "running"}
        outcomes = dict(conn.execute(sa.select(sync_runs.c.run_id, sync_runs.c.outcome)).all())
        assert outcomes == {"dead-run": "failed", "live-run": "running", "fresh-run": "running"}
        # Closed today, they age from now like any failed attempt.
        assert (
            prune_history(conn, RetentionPolicy(failed_attempt_days=1), live_run_ids=set()).failed_attempts_deleted == 0
        )


def test_old_sync_runs_go_except_each_tenants_first_success_and_newest_run(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
        add_tenant(conn, "globex", 43)
        insert_run(conn, "acme-first-failed", "failed", days_ago=300)
        insert_run(conn, "acme-first-success", "partial", days_ago=200)
        insert_run(conn, "acme-old", "complete", days_ago=150)
        insert_run(conn, "acme-old-failed", "failed", days_ago=100)
        insert_run(conn, "acme-recent", "complete", days_ago=10)
        insert_run(
            conn, "globex-only", "failed", days_ago=500, tenant="globex"
        )  # its newest: kept, though old and failed
        pruned = prune_history(conn, RetentionPolicy(sync_run_days=90), live_run_ids=set())
        kept = set(conn.execute(sa.select(sync_runs.c.run_id)).scalars())
        assert pruned.sync_runs_deleted == 3, kept
        assert kept == {"acme-first-success", "acme-recent", "globex-only"}
        assert first_success(conn, "acme") is not None, "the end of onboarding is still known"


def test_audit_entries_older_than_the_window_go(engine):
    with engine.begin() as conn:
        for days in (400, 366, 30, 0):
            conn.execute(
                api_audit_log.insert().values(
                    at=sa.func.now() - timedelta(days=days),
                    key_id="k",
                    tenant_id="acme",
                    action=f"POST /{days}",
                    status_code=202,
                    outcome="ok",
                )
            )
        assert prune_history(conn, RetentionPolicy(audit_days=365), live_run_ids=set()).audit_entries_deleted == 2
        assert sorted(conn.execute(sa.select(api_audit_log.c.action)).scalars()) == ["POST /0", "POST /30"]


def test_the_retention_sensor_prunes_the_history_tables_and_spares_the_attempts_of_runs_dagster_still_has(
    engine, database_url
):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
        insert_job(conn, 1, "failed", "old", finished_days=40)
    with dg.instance_for_test() as instance:
        queued = instance.create_run_for_job(trivial_job, run_id=None)
        with engine.begin() as conn:
            insert_job(conn, 2, "running", queued.run_id, idle_hours=48)
            insert_job(conn, 3, "running", "gone", idle_hours=48)
        context = dg.build_sensor_context(
            instance=instance,
            resources={"run_retention": RunRetention(), "postgres": PostgresResource(database_url=database_url)},
        )
        result = run_history_retention(context)
    assert isinstance(result, dg.SkipReason)
    assert "1 failed attempts deleted" in result.skip_message and "1 stale attempts closed" in result.skip_message
    with engine.connect() as conn:
        state = attempts(conn)
    assert set(state) == {2, 3}
    assert state[2][0] == "running" and state[3] == ("failed", ABANDONED_ATTEMPT)
