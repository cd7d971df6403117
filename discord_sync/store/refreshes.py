"""What the refresh policy needs from the database: each channel's checkpoint, thread counters and when its stored
history was last re-read (`channel_refreshes`), and recording a finished re-read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from discord_sync.store.schema import channel_refreshes, channels, sync_progress
from discord_sync.store.sync_status import ChannelSyncStatus


def channels_to_refresh(conn: sa.Connection, tenant_id: str, channel_types: list[int]) -> Sequence[Any]:
    """The tenant's live, readable channels with stored history: checkpoint, thread state, counters, last re-reads."""
    return conn.execute(
        sa.select(
            channels.c.id,
            channels.c.name,
            channels.c.is_thread,
            channels.c.archived,
            channels.c.archived_at,
            channels.c.created_at,
            channels.c.message_count,
            channels.c.total_message_sent,
            sync_progress.c.last_message_id.label("checkpoint"),
            channel_refreshes.c.hourly_refreshed_at,
            channel_refreshes.c.daily_refreshed_at,
            channel_refreshes.c.reconciled_at,
            channel_refreshes.c.deletions_seen,
        )
        .select_from(
            channels.join(
                sync_progress,
                (sync_progress.c.tenant_id == channels.c.tenant_id) & (sync_progress.c.channel_id == channels.c.id),
            ).outerjoin(
                channel_refreshes,
                (channel_refreshes.c.tenant_id == channels.c.tenant_id)
                & (channel_refreshes.c.channel_id == channels.c.id),
            )
        )
        .where(
            channels.c.tenant_id == tenant_id,
            channels.c.deleted_at.is_(None),
            channels.c.type.in_(channel_types),
            sync_progress.c.last_message_id.is_not(None),
            # A channel the bot could not read is not re-read: what it cannot see is not deleted.
            sync_progress.c.status != ChannelSyncStatus.SKIPPED,
        )
        .order_by(channels.c.id)
    ).all()


def channels_with_counters(conn: sa.Connection, tenant_id: str, channel_ids: list[int]) -> Sequence[Any]:
    """The given channels with their thread counters (null for channels) and creation time."""
    if not channel_ids:
        return []
    return conn.execute(
        sa.select(
            channels.c.id,
            channels.c.is_thread,
            channels.c.created_at,
            channels.c.message_count,
            channels.c.total_message_sent,
        ).where(channels.c.tenant_id == tenant_id, channels.c.id.in_(channel_ids))
    ).all()


def record_refresh(
    conn: sa.Connection,
    tenant_id: str,
    channel_id: int,
    *,
    at: datetime,
    horizons: frozenset[str],
    deletions_seen: int | None,
) -> None:
    """Remember that a channel's re-read for `horizons` finished at `at` (and the thread deletions it accounted for)."""
    values: dict[str, Any] = {}
    if "hourly" in horizons:
        values["hourly_refreshed_at"] = at
    if "daily" in horizons:
        values["daily_refreshed_at"] = at
    if "reconcile" in horizons:
        values["reconciled_at"] = at
    if deletions_seen is not None:
        values["deletions_seen"] = deletions_seen
    if not values:
        return
    conn.execute(
        pg_insert(channel_refreshes)
        .values(tenant_id=tenant_id, channel_id=channel_id, **values)
        .on_conflict_do_update(index_elements=["tenant_id", "channel_id"], set_=values)
    )
