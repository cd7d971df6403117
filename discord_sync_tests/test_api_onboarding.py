"""A tenant's onboarding state and next scheduled sync, decided from its runs (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from discord_sync.api.onboarding import next_hourly_sync, onboarding_state
from discord_sync.control.runs import TenantRun
from discord_sync.store.sync_runs import SyncRun

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 10, 42, 17, tzinfo=UTC)


def dagster_run(status: str) -> TenantRun:
    return TenantRun(run_id="r1", tenant_id="acme", status=status, created_at=NOW)


def sync_row(outcome: str, error: str | None = None) -> SyncRun:
    counts = dict.fromkeys(
        [
            "channels_total",
            "channels_unchanged",
            "channels_complete",
            "channels_skipped",
            "channels_failed",
            "channels_running",
            "messages",
            "discord_requests",
            "rate_limit_hits",
            "invalid_requests",
        ],
        0,
    )
    return SyncRun(
        run_id="r1",
        tenant_id="acme",
        started_at=NOW,
        updated_at=NOW,
        finished_at=None,
        outcome=outcome,
        messages_per_second=0.0,
        limiter_wait_seconds=0.0,
        error=error,
        **counts,
    )


@pytest.mark.parametrize(
    ("first_success", "latest_sync", "latest_run", "state"),
    [
        (None, None, None, "pending"),
        (None, None, dagster_run("queued"), "pending"),
        (None, None, dagster_run("started"), "syncing"),
        (None, sync_row("running"), dagster_run("started"), "syncing"),
        (None, sync_row("running"), None, "syncing"),
        (None, sync_row("running"), dagster_run("failure"), "failed"),
        (None, sync_row("failed", "SourceError: 401"), dagster_run("failure"), "failed"),
        (None, None, dagster_run("canceled"), "failed"),
        (NOW, sync_row("failed", "later failure"), dagster_run("failure"), "complete"),
    ],
)
def test_onboarding_is_complete_once_a_run_completed_and_otherwise_follows_the_latest_run(
    first_success, latest_sync, latest_run, state
):
    onboarding = onboarding_state(first_success_at=first_success, latest_sync=latest_sync, latest_run=latest_run)
    assert onboarding.state == state
    assert (onboarding.error is not None) == (state == "failed")
    assert (onboarding.completed_at is not None) == (state == "complete")


def test_a_failed_first_sync_carries_the_runs_error_in_plain_words():
    onboarding = onboarding_state(
        first_success_at=None, latest_sync=sync_row("failed", "SourceError: 401"), latest_run=dagster_run("failure")
    )
    assert onboarding.error == "SourceError: 401"
    crashed = onboarding_state(first_success_at=None, latest_sync=None, latest_run=dagster_run("failure"))
    assert "run r1 ended (failure)" in crashed.error and "Dagster UI" in crashed.error


def test_the_next_sync_is_due_at_the_top_of_the_next_hour_utc():
    assert next_hourly_sync(NOW) == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    assert next_hourly_sync(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
