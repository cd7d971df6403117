"""The statuses a channel's sync can be in (`sync_progress.status`, `channel_sync_jobs.status`) and the outcomes
of a run (`sync_runs.outcome`).

One enumeration each for Python and SQL: code compares with its members, SQL receives their values as bound parameters,
and the tables' check constraints are built from it (docs/schema.md describes each value).
"""

from __future__ import annotations

from enum import StrEnum


class ChannelSyncStatus(StrEnum):
    """Where one channel's sync stands (a checkpoint's status) or how one attempt at it ended."""

    PENDING = "pending"  # known, not synced yet (checkpoints only: an attempt starts `running`)
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"  # the next sync retries from the checkpoint
    SKIPPED = "skipped"  # no access, or the channel is gone


CHECKPOINT_STATUSES = tuple(ChannelSyncStatus)
ATTEMPT_STATUSES = tuple(s for s in ChannelSyncStatus if s is not ChannelSyncStatus.PENDING)


class RunOutcome(StrEnum):
    """How a run that synced a tenant's messages ended (`running` until it does)."""

    RUNNING = "running"
    COMPLETE = "complete"
    PARTIAL = "partial"  # some channels failed or were skipped and the rest completed
    FAILED = "failed"


# A run that synced at least some channels: the end of a tenant's onboarding.
SUCCESSFUL_OUTCOMES = (RunOutcome.COMPLETE, RunOutcome.PARTIAL)
