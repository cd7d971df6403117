"""The refresh policy: which stored history to read again, and reading it, so the copy follows Discord's changes.

A message only ever changes or disappears inside the range a channel has already stored (new messages get newer
ids), so a re-read is a window `after < id <= checkpoint` read forward like a sync, written through the same
writer (unchanged rows are left untouched; reactions and attachments are replaced, renewing signed URLs).
Which windows (`plan_refresh`, pure):

- every run, the last `SYNC_REFRESH_HOURLY_HORIZON_HOURS` of each channel that has stored messages that recent;
- once a day, the last `SYNC_REFRESH_DAILY_HORIZON_DAYS` instead;
- a thread whose counters show a deletion since its last re-read (`total_message_sent - message_count` grew),
  whole; threads created before 2022-07-01 stop counting at 50, so their counters are trusted only below that;
- nothing else of a thread archived before its last re-read: an archived thread changes only by deletion;
- a `reconcile` run (tag `discord_sync/reconcile=true`): every channel's whole history, paced at
  `SYNC_RECONCILE_REQUESTS_PER_SECOND`.

A stored message that a complete re-read of its range no longer returns was deleted, once one request for it
answers 404 Unknown Message: an empty answer can also mean the bot lost Read Message History, and a 403 or a
hidden channel is never taken for deletion. `SYNC_DELETED_MESSAGES` says what happens then (`store/deletions`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import MESSAGE_BEARING_TYPES, MessageRows, shape_messages, snowflake_at
from discord_sync.source.protocol import ChannelUnavailable, CommunitySource, RateLimitTooLong, TransientFailure
from discord_sync.store.deletions import apply_deletions, stored_live_ids
from discord_sync.store.refreshes import channels_to_refresh, record_refresh, threads_with_counters
from discord_sync.store.writer import write_messages

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


@dataclass
class RefreshReport:
    """What the re-reads of one run did; becomes part of the run's metadata."""

    windows: int = 0
    requests: int = 0
    messages_reread: int = 0
    messages_deleted: int = 0
    windows_unreadable: int = 0
    windows_failed: int = 0
    errors: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "refresh_windows": self.windows,
            "refresh_requests": self.requests,
            "refresh_messages_reread": self.messages_reread,
            "refresh_messages_deleted": self.messages_deleted,
            "refresh_windows_unreadable": self.windows_unreadable,
            "refresh_windows_failed": self.windows_failed,
        }


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
            horizons = {HOURLY, DAILY, RECONCILE if reconcile else DELETION_SIGNAL}
            windows.append(RefreshWindow(row.id, row.name, 0, checkpoint, frozenset(horizons), deletions))
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


def record_first_baselines(conn: sa.Connection, tenant_id: str, channel_ids: list[int], now: datetime) -> None:
    """Counter baselines of threads whose first sync just completed: a deletion after it shows at the next run."""
    if not channel_ids:
        return
    for row in threads_with_counters(conn, tenant_id, channel_ids):
        deletions = thread_deletions(row)
        if deletions is not None:
            record_refresh(conn, tenant_id, row.id, at=now, horizons=frozenset(), deletions_seen=deletions)


class RequestPacer:
    """Spaces requests at most `per_second` apart across every worker (a reconcile's bounded rate)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            now = loop.time()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


def _message_id(payload: Any) -> int | None:
    try:
        return int(payload["id"])
    except (TypeError, KeyError, ValueError):
        return None


class Refresher:
    """Reads planned windows again with a bounded pool of workers and applies what changed."""

    def __init__(
        self,
        *,
        engine: sa.Engine,
        tenant_id: str,
        source: CommunitySource,
        anonymizer: Anonymizer,
        policy: RefreshPolicy,
        fetch_size: int,
        max_workers: int,
        paced: bool,
        log: logging.Logger | Any,
    ) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.source = source
        self.anonymizer = anonymizer
        self.policy = policy
        self.fetch_size = fetch_size
        self.max_workers = max_workers
        self.pacer = RequestPacer(policy.reconcile_requests_per_second) if paced else None
        self.log = log
        self.report = RefreshReport()

    async def run(self, windows: list[RefreshWindow]) -> RefreshReport:
        """Re-read every window; a `SourceError` (bad token, bot removed) aborts them all."""
        queue = list(reversed(windows))
        self.report.windows = len(windows)

        async def worker() -> None:
            while queue:
                await self._refresh(queue.pop())

        await asyncio.gather(*(worker() for _ in range(max(1, min(self.max_workers, len(windows))))))
        return self.report

    async def _refresh(self, window: RefreshWindow) -> None:
        try:
            seen = await self._read(window)
            deleted = await self._confirmed_deletions(window, seen)
        except ChannelUnavailable as error:
            self.report.windows_unreadable += 1
            self.log.info(f"refresh of channel {window.channel_id} stopped: {error}; nothing is taken for deleted")
            return
        except (TransientFailure, RateLimitTooLong) as error:
            self.report.windows_failed += 1
            self.report.errors.append(f"channel {window.channel_id}: {error}")
            self.log.warning(f"refresh of channel {window.channel_id} failed: {error}; the next run re-reads it")
            return
        await asyncio.to_thread(self._finish, window, deleted)

    async def _read(self, window: RefreshWindow) -> set[int]:
        """Page through the window, writing each page; returns every id Discord returned in it."""
        seen: set[int] = set()
        cursor = window.after
        while True:
            if self.pacer is not None:
                await self.pacer.wait()
            page = await self.source.fetch_messages_after(window.channel_id, cursor, self.fetch_size)
            self.report.requests += 1
            ids = [_message_id(m) for m in page]
            in_range = [m for m, i in zip(page, ids, strict=True) if i is not None and i <= window.upto]
            seen.update(i for i in ids if i is not None and i <= window.upto)
            if in_range:
                rows = shape_messages(self.tenant_id, window.channel_id, in_range, self.anonymizer)
                await asyncio.to_thread(self._write, rows)
                self.report.messages_reread += len(rows.messages)
            top = max((i for i in ids if i is not None), default=cursor)
            if len(page) < self.fetch_size or len(in_range) < len(page) or top >= window.upto or top <= cursor:
                return seen
            cursor = top

    def _write(self, rows: MessageRows) -> None:
        with self.engine.begin() as conn:
            write_messages(conn, self.tenant_id, rows, stored=True)
            if rows.deleted_referenced_ids:
                self.report.messages_deleted += apply_deletions(
                    conn, self.tenant_id, rows.deleted_referenced_ids, self.policy.deleted_messages
                )

    async def _confirmed_deletions(self, window: RefreshWindow, seen: set[int]) -> list[int]:
        def missing() -> set[int]:
            with self.engine.connect() as conn:
                return stored_live_ids(conn, self.tenant_id, window.channel_id, window.after, window.upto) - seen

        gone = await asyncio.to_thread(missing)
        if not gone:
            return []
        # One request tells deletion (404 Unknown Message) from lost access (403, or an empty page without Read
        # Message History, for which `message_exists` answers 403 too).
        if self.pacer is not None:
            await self.pacer.wait()
        exists = await self.source.message_exists(window.channel_id, max(gone))
        self.report.requests += 1
        if exists:
            self.log.warning(
                f"refresh of channel {window.channel_id}: message {max(gone)} exists but was not listed; "
                "no deletion applied"
            )
            return []
        return sorted(gone)

    def _finish(self, window: RefreshWindow, deleted: list[int]) -> None:
        with self.engine.begin() as conn:
            if deleted:
                self.report.messages_deleted += apply_deletions(
                    conn, self.tenant_id, deleted, self.policy.deleted_messages
                )
            record_refresh(
                conn,
                self.tenant_id,
                window.channel_id,
                at=datetime.now(UTC),
                horizons=window.horizons,
                deletions_seen=window.deletions_now,
            )
