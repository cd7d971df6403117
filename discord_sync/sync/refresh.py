"""Reading planned windows of stored history again (`refresh_plan`) and applying what changed.

Each page is written through the sync's one `BatchWriter` (unchanged rows are left untouched; reactions and
attachments are replaced, renewing signed URLs). A stored message that a complete re-read of its range no longer
returns was deleted, once one request for it answers 404 Unknown Message: an empty answer can also mean the bot
lost Read Message History, and a 403 or a hidden channel is never taken for deletion. `SYNC_DELETED_MESSAGES`
says what happens then (`store/deletions`). A reconcile's requests are paced at
`SYNC_RECONCILE_REQUESTS_PER_SECOND`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import MessageRows, shape_messages
from discord_sync.source.protocol import ChannelUnavailable, CommunitySource, RateLimitTooLong, TransientFailure
from discord_sync.store.deletions import apply_deletions, stored_live_ids
from discord_sync.store.refreshes import record_refresh
from discord_sync.sync.batch_writer import BatchWriter
from discord_sync.sync.refresh_plan import RefreshPolicy, RefreshWindow


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


class RequestPacer:
    """Spaces requests `1 / per_second` apart across every worker of a run (a reconcile's bounded rate)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0

    def reserve(self, now: float) -> float:
        """Take the next free slot at or after `now`; returns how long to wait for it."""
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now

    async def wait(self) -> None:
        # No await between reading and moving `_next`: workers on one event loop cannot take the same slot.
        delay = self.reserve(asyncio.get_running_loop().time())
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
        writer: BatchWriter,
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
        self.writer = writer
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
            missing = await self._read(window)
            deleted = await self._confirmed_deletions(window, missing)
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
        """Page through the window, writing each page; returns the stored live ids Discord no longer returned.

        Each page covers `cursor < id <= its newest id` (the last page: up to the window's end); what is stored
        there and was not returned is collected page by page, so a reconcile of a huge channel holds only those.
        """
        missing: set[int] = set()
        cursor = window.after
        while True:
            if self.pacer is not None:
                await self.pacer.wait()
            page = await self.source.fetch_messages_after(window.channel_id, cursor, self.fetch_size)
            self.report.requests += 1
            ids = [_message_id(m) for m in page]
            in_range = [m for m, i in zip(page, ids, strict=True) if i is not None and i <= window.upto]
            returned = {i for i in ids if i is not None and i <= window.upto}
            top = max((i for i in ids if i is not None), default=cursor)
            last = len(page) < self.fetch_size or len(in_range) < len(page) or top >= window.upto or top <= cursor
            covered = window.upto if last else top
            rows = shape_messages(self.tenant_id, window.channel_id, in_range, self.anonymizer)
            missing |= await asyncio.to_thread(self._write, window.channel_id, rows, cursor, covered, returned)
            self.report.messages_reread += len(rows.messages)
            if last:
                return missing
            cursor = top

    def _write(self, channel_id: int, rows: MessageRows, after: int, upto: int, returned: set[int]) -> set[int]:
        """Write a re-read page and return the stored live ids of its range it did not return."""
        with self.engine.begin() as conn:
            self.report.messages_deleted += self.writer.write_reread(conn, rows)
            return stored_live_ids(conn, self.tenant_id, channel_id, after, upto) - returned

    async def _confirmed_deletions(self, window: RefreshWindow, gone: set[int]) -> list[int]:
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
