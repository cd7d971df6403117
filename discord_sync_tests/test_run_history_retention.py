"""Dagster's run history is pruned after DAGSTER_RUN_RETENTION_DAYS: old finished runs and their logs go."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from discord_sync.defs.run_retention import delete_runs_older_than

DAY = 86400.0


@dg.op
def answer() -> int:
    """A trivial step, so the run has an event log."""
    return 42


@dg.job
def trivial_job() -> None:
    answer()


@pytest.mark.integration
def test_finished_runs_older_than_the_retention_age_are_deleted_with_their_logs():
    with dg.instance_for_test() as instance:
        run_ids = [trivial_job.execute_in_process(instance=instance).run_id for _ in range(2)]
        assert all(instance.all_logs(run_id) for run_id in run_ids)

        assert delete_runs_older_than(instance, days=1, now=time.time(), limit=500) == []
        deleted = delete_runs_older_than(instance, days=1, now=time.time() + 2 * DAY, limit=500)

        assert sorted(deleted) == sorted(run_ids)
        assert all(instance.get_run_by_id(run_id) is None for run_id in run_ids)
        assert all(instance.all_logs(run_id) == [] for run_id in run_ids)
