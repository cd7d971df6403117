"""The statuses a channel's sync can be in: the values of `sync_progress.status` and `channel_sync_jobs.status`.

One enumeration for Python and SQL: code compares with its members, SQL receives their values as bound parameters,
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
# A channel whose sync ended without catching up: failed (retried next sync) or skipped (no access, gone).
UNSYNCED_STATUSES = (ChannelSyncStatus.FAILED, ChannelSyncStatus.SKIPPED)
