"""Retention: finished channel sync attempts are kept for a week, then deleted after a successful sync."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from discord_sync.store.schema import channel_sync_jobs
from discord_sync.store.sync_status import ChannelSyncStatus


def delete_old_attempts(conn: sa.Connection, *, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete completed (or skipped) attempts (`channel_sync_jobs` rows) finished more than `older_than` ago."""
    result = conn.execute(
        channel_sync_jobs.delete().where(
            channel_sync_jobs.c.status.in_((ChannelSyncStatus.COMPLETE, ChannelSyncStatus.SKIPPED)),
            channel_sync_jobs.c.finished_at < sa.func.now() - older_than,
        )
    )
    return result.rowcount
