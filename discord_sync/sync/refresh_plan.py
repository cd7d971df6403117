"""The refresh policy: which stored history each run reads again, so the copy follows Discord's changes.

A message only ever changes or disappears inside the range a channel has already stored (new messages get newer
ids), so a re-read is a window `after < id <= checkpoint` (read by `sync/refresh.py`). Which windows
(`plan_refresh`, pure):

- every run, the last `SYNC_REFRESH_HOURLY_HORIZON_HOURS` of each channel that has stored messages that recent;
- once a day, the last `SYNC_REFRESH_DAILY_HORIZON_DAYS` instead;
- a thread whose counters show a deletion since its last re-read (`total_message_sent - message_count` grew),
  whole; threads created before 2022-07-01 stop counting at 50, so their counters are trusted only below that;
- nothing else of a thread archived before its last re-read: an archived thread changes only by deletion;
- a `reconcile` run (tag `discord_sync/reconcile=true`): every channel's whole history.

A channel with nothing stored in a window costs no request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from discord_sync.shaping.channel_types import MESSAGE_BEARING_TYPES
from discord_sync.shaping.rows import snowflake_at
from discord_sync.store.refreshes import channels_to_refresh, channels_with_counters, record_refresh

HOURLY, DAILY, RECONCILE, DELETION_SIGNAL = "hourly", "daily", "reconcile", "deletion_signal"
DAILY_EVERY = timedelta(hours=24)
# Discord's thread counters: threads created before this date stopped counting at 50 messages.
THREAD_COUNTERS_SINCE = datetime(2022, 7, 1, tzinfo=UTC)
OLD_THREAD_COUNTER_CAP = 50


@dataclass(frozen=True)
class RefreshPolicy:
    """How far back each run re-reads, how often the longer horizon, and what a deletion does to the copy."""

    hourly_horizon: timedelta = timedelta(hours=24)
    daily_horizon: timedelta = timedelta(days=7)
    reconcile_requests_per_second: float = 5.0
    deleted_messages: str = "tombstone"


@dataclass(frozen=True)
class RefreshWindow:
    """Stored history of one channel to read again: messages with `after < id <= upto`."""

    channel_id: int
    name: str
    after: int
    upto: int
    horizons: frozenset[str]
    deletions_now: int | None = None  # a thread's deletions by its counters, recorded once the re-read is done


def thread_deletions(row: Any) -> int | None:
    """How many messages a thread's counters say were deleted, or None where the counters say nothing."""
    if not row.is_thread or row.message_count is None or row.total_message_sent is None:
        return None
    capped = max(row.message_count, row.total_message_sent) >= OLD_THREAD_COUNTER_CAP
    if capped and row.created_at is not None and row.created_at < THREAD_COUNTERS_SINCE:
        return None
    return max(0, row.total_message_sent - row.message_count)


def plan_refresh(
    rows: Iterable[Any], policy: RefreshPolicy, now: datetime, *, reconcile: bool = False
) -> tuple[list[RefreshWindow], list[tuple[int, int]]]:
    """The windows to re-read, and (channel, deletions) counter baselines to record without any request."""
    windows: list[RefreshWindow] = []
    baselines: list[tuple[int, int]] = []
    for row in rows:
        checkpoint = row.checkpoint or 0
        deletions = thread_deletions(row)
        signal = deletions is not None and row.deletions_seen is not None and deletions > row.deletions_seen
        if reconcile or signal:
            everything = frozenset({HOURLY, DAILY, RECONCILE if reconcile else DELETION_SIGNAL})
            windows.append(RefreshWindow(row.id, row.name, 0, checkpoint, everything, deletions))
            continue
        if deletions is not None and row.deletions_seen is None:
            baselines.append((row.id, deletions))
        refreshed = row.hourly_refreshed_at
        if row.archived and row.archived_at is not None and refreshed is not None and row.archived_at <= refreshed:
            continue
        daily_due = policy.daily_horizon > timedelta(0) and (
            row.daily_refreshed_at is None or now - row.daily_refreshed_at >= DAILY_EVERY
        )
        if daily_due:
            horizon, horizons = policy.daily_horizon, frozenset({DAILY, HOURLY})
        elif policy.hourly_horizon > timedelta(0):
            horizon, horizons = policy.hourly_horizon, frozenset({HOURLY})
        else:
            continue
        after = snowflake_at(int((now - horizon).timestamp() * 1000))
        # Nothing stored in the range: nothing there can have changed (new messages are the sync's, past the
        # checkpoint), so the window costs no request.
        if checkpoint > after:
            windows.append(RefreshWindow(row.id, row.name, after, checkpoint, horizons, deletions))
    return windows, baselines


def plan_tenant_refresh(
    conn: sa.Connection, tenant_id: str, policy: RefreshPolicy, now: datetime, *, reconcile: bool = False
) -> list[RefreshWindow]:
    """Plan the tenant's re-reads from its stored state; counter baselines of threads are recorded right away."""
    rows = channels_to_refresh(conn, tenant_id, sorted(MESSAGE_BEARING_TYPES))
    windows, baselines = plan_refresh(rows, policy, now, reconcile=reconcile)
    for channel_id, deletions in baselines:
        record_refresh(conn, tenant_id, channel_id, at=now, horizons=frozenset(), deletions_seen=deletions)
    return windows


def record_first_sync(conn: sa.Connection, tenant_id: str, channel_ids: list[int], now: datetime) -> None:
    """Channels whose first sync just completed were read whole: that counts as their hourly and daily re-read,
    and a thread's counters now are its baseline, so a deletion after it shows at the next run."""
    for row in channels_with_counters(conn, tenant_id, channel_ids):
        record_refresh(
            conn, tenant_id, row.id, at=now, horizons=frozenset({HOURLY, DAILY}), deletions_seen=thread_deletions(row)
        )
