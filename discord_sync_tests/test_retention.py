"""Retention of `channel_sync_jobs`: only finished, successful attempts older than the window go."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from discord_sync.store.retention import delete_old_attempts
from discord_sync.store.tenants import add_tenant

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
