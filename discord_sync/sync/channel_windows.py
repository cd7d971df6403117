"""Fetching channels' new messages in parallel, each channel's history split into windows when workers idle.

Every channel to sync starts as one window from its checkpoint to the newest message. At most
`SYNC_MAX_CHANNEL_WORKERS` windows are fetched at once. When a worker has nothing queued, it splits the running
window with the most estimated messages left (snowflakes encode time, so a window is a time range), up to
`SYNC_MAX_WINDOWS_PER_CHANNEL` windows per channel: a guild of many channels runs channel-parallel, one huge channel
runs window-parallel, and both are bounded by the shared request limiter.

A window writes its messages in batches of about `SYNC_WRITE_BATCH_MESSAGES`, each batch with its channel's
checkpoint in one transaction. The checkpoint only ever covers the contiguous stored prefix of the channel's
history, so a crash anywhere resumes exactly after what is stored; a window re-fetched after a crash rewrites
equal rows, which the upsert leaves untouched.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import MessageRows, shape_messages
from discord_sync.source.protocol import ChannelUnavailable, CommunitySource, RateLimitTooLong, TransientFailure
from discord_sync.store.sync_status import ChannelSyncStatus
from discord_sync.sync.windows import (
    ChannelInProgress,
    ChannelOutcome,
    ChannelPlan,
    Window,
    read_page,
    split_window,
    window_to_split,
)

IDLE_POLL_SECONDS = 0.05


WriteBatch = Callable[[int, MessageRows, int, ChannelSyncStatus], Awaitable[None]]


class ChannelSyncer:
    """Runs the windows of many channels on a bounded pool of workers."""

    def __init__(
        self,
        *,
        tenant_id: str,
        source: CommunitySource,
        anonymizer: Anonymizer,
        write_batch: WriteBatch,
        max_workers: int,
        max_windows_per_channel: int,
        fetch_size: int,
        batch_messages: int,
        on_channel_done: Callable[[ChannelOutcome], Awaitable[None]],
        on_channel_start: Callable[[ChannelOutcome], Awaitable[None]],
    ) -> None:
        self.tenant_id = tenant_id
        self.source = source
        self.anonymizer = anonymizer
        self.write_batch = write_batch
        self.max_workers = max_workers
        self.max_windows_per_channel = max_windows_per_channel
        self.fetch_size = fetch_size
        self.batch_messages = batch_messages
        self.on_channel_done = on_channel_done
        self.on_channel_start = on_channel_start
        self.queue: deque[Window] = deque()
        self.channels: list[ChannelInProgress] = []
        self.peak_concurrent_channels = 0
        self._active_channels: set[int] = set()

    async def run(self, plans: list[ChannelPlan]) -> list[ChannelOutcome]:
        """Sync every planned channel; returns one outcome per plan. A `SourceError` aborts all of them."""
        for plan in plans:
            channel = ChannelInProgress(ChannelOutcome(plan=plan, checkpoint=plan.checkpoint))
            window = Window(channel, plan.checkpoint, None, plan.checkpoint, plan.checkpoint)
            channel.windows.append(window)
            self.queue.append(window)
            self.channels.append(channel)
        # Idle workers split running windows, so a few channels still use every worker: one channel up to
        # `max_windows_per_channel` of them.
        wanted = min(self.max_workers, max(1, len(plans) * self.max_windows_per_channel))
        workers = [asyncio.create_task(self._worker()) for _ in range(wanted)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        return [channel.outcome for channel in self.channels]

    def _split_largest(self) -> Window | None:
        best = window_to_split(
            self.channels, max_windows_per_channel=self.max_windows_per_channel, fetch_size=self.fetch_size
        )
        return split_window(best) if best is not None else None

    async def _worker(self) -> None:
        while True:
            window = self.queue.popleft() if self.queue else None
            if window is None:
                if not any(channel.active_windows() for channel in self.channels):
                    return
                window = self._split_largest()
                if window is None:
                    await asyncio.sleep(IDLE_POLL_SECONDS)
                    continue
            await self._run_window(window)

    async def _run_window(self, window: Window) -> None:
        channel = window.channel
        outcome: ChannelOutcome = channel.outcome
        if channel.stopped:
            return
        window.running = True
        channel_id = outcome.plan.channel_id
        if len(channel.windows) == 1 and not outcome.requests:
            await self.on_channel_start(outcome)
        self._active_channels.add(channel_id)
        self.peak_concurrent_channels = max(self.peak_concurrent_channels, len(self._active_channels))
        pending = MessageRows()
        # The previous batch is written while the next pages are fetched; at most one write per window is in
        # flight, so batches (and the checkpoint) still land in order.
        writing: asyncio.Task | None = None
        # Windows that start together would otherwise write together, every batch, and the burst of writer
        # threads stalls the event loop's requests; a random first batch spreads the writes out.
        flush_at = max(1, int(self.batch_messages * random.uniform(0.3, 1.0)))
        # How the window ended early, if it did: the status and error its channel stops with.
        stopped: tuple[ChannelSyncStatus, str] | None = None
        try:
            try:
                while not channel.stopped:
                    page = await self.source.fetch_messages_after(channel_id, window.cursor, self.fetch_size)
                    outcome.requests += 1
                    read = read_page(
                        page,
                        cursor=window.cursor,
                        end=window.end,
                        last_message_id=outcome.plan.last_message_id,
                        fetch_size=self.fetch_size,
                    )
                    pending.extend(shape_messages(self.tenant_id, channel_id, read.messages, self.anonymizer))
                    window.messages_seen += len(read.messages)
                    window.cursor = max(window.cursor, read.top)
                    if read.reached_end:
                        if window.end is not None:
                            window.cursor = window.end
                        window.complete = True
                        break
                    if len(pending.messages) >= flush_at:
                        if writing is not None:
                            await writing
                        writing = asyncio.create_task(self._flush(window, pending, window.cursor))
                        pending = MessageRows()
                        flush_at = self.batch_messages
            except ChannelUnavailable as error:
                # A channel the bot lost access to keeps what it stored; the unwritten pages are dropped.
                stopped, pending = (ChannelSyncStatus.SKIPPED, f"{error.status} {error.reason}"), MessageRows()
            except (TransientFailure, RateLimitTooLong) as error:
                stopped = (ChannelSyncStatus.FAILED, str(error))
            # The one wait on the write in flight, however the window ended: batches land in order.
            if writing is not None:
                await writing
            # A finished window writes its last batch (possibly empty: it moves the checkpoint); a failed one only
            # what it read, so the next sync resumes after it.
            if stopped is None or pending.messages:
                await self._flush(window, pending, window.cursor)
            if stopped is not None:
                self._stop(channel, *stopped)
        finally:
            window.running = False
            if writing is not None and not writing.done():
                writing.cancel()
        if not any(w.running for w in channel.windows):
            await self._finish_channel(channel)

    async def _flush(self, window: Window, rows: MessageRows, upto: int) -> None:
        """Write `rows` (the window's messages up to id `upto`) with the channel's contiguous checkpoint.

        Windows of one channel write side by side. Each computes the checkpoint from the other windows' committed
        progress plus its own batch, so a checkpoint never covers rows of a transaction that has not committed;
        a checkpoint left behind by that caution is caught up when the channel finishes.
        """
        channel = window.channel
        outcome: ChannelOutcome = channel.outcome
        checkpoint = channel.contiguous_checkpoint(including=(window, upto))
        await self.write_batch(outcome.plan.channel_id, rows, checkpoint, ChannelSyncStatus.RUNNING)
        window.flushed = max(window.flushed, upto)
        outcome.checkpoint = max(outcome.checkpoint, checkpoint)
        outcome.messages += len(rows.messages)
        outcome.reactions += len(rows.reactions)
        outcome.attachments += len(rows.attachments)
        outcome.item_errors.extend((e.item_id, e.error) for e in rows.errors)

    def _stop(self, channel: ChannelInProgress, status: ChannelSyncStatus, error: str) -> None:
        channel.stopped = True
        outcome: ChannelOutcome = channel.outcome
        if outcome.status is ChannelSyncStatus.RUNNING:
            outcome.status, outcome.error = status, error

    async def _finish_channel(self, channel: ChannelInProgress) -> None:
        outcome: ChannelOutcome = channel.outcome
        if outcome.finished is not None:
            return
        if outcome.status is ChannelSyncStatus.RUNNING:
            if not all(w.complete for w in channel.windows):
                return
            outcome.status = ChannelSyncStatus.COMPLETE
        outcome.finished = time.monotonic()
        outcome.checkpoint = max(outcome.checkpoint, channel.contiguous_checkpoint())
        self._active_channels.discard(outcome.plan.channel_id)
        await self.on_channel_done(outcome)
