"""A tenant's onboarding state and next scheduled sync, decided from its runs (pure functions)."""

from __future__ import annotations

from datetime import datetime, timedelta

from discord_sync.api.schemas import Onboarding
from discord_sync.control.runs import TenantRun
from discord_sync.store.sync_runs import SyncRun
from discord_sync.store.sync_status import RunOutcome

# Dagster statuses of a run that ended without syncing (its error is in the Dagster UI).
_ENDED_BADLY = ("failure", "canceled")


def onboarding_state(
    *,
    first_success_at: datetime | None,
    latest_sync: SyncRun | None,
    latest_run: TenantRun | None,
) -> Onboarding:
    """`complete` once a run completed (fully or partly); `syncing` while a run works on the first sync;
    `failed` (with the error) if the latest attempt failed; `pending` until the first run starts."""
    if first_success_at is not None:
        return Onboarding(state="complete", completed_at=first_success_at)
    if latest_run is not None and latest_run.status in ("started", "starting", "canceling"):
        return Onboarding(state="syncing")
    if (
        latest_sync is not None
        and latest_sync.outcome == RunOutcome.RUNNING
        and (latest_run is None or latest_run.is_active)
    ):
        return Onboarding(state="syncing")
    if latest_sync is not None and latest_sync.outcome == RunOutcome.FAILED:
        return Onboarding(state="failed", error=latest_sync.error or "the first sync failed")
    if latest_run is not None and latest_run.status in _ENDED_BADLY:
        return Onboarding(
            state="failed",
            error=f"the first sync run {latest_run.run_id} ended ({latest_run.status}); its log is in the Dagster UI",
        )
    return Onboarding(state="pending")


def next_hourly_sync(now: datetime) -> datetime:
    """The next tick of the hourly schedule (`defs/schedules.py`: every hour on the hour, UTC)."""
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
