"""One tenant's message sync: plan the changed channels, run them in parallel, record every outcome.

Runs under a per-tenant PostgreSQL advisory lock, so two syncs of one tenant (a queued run and a CLI
`materialize`, an hourly tick during a long backfill) never write at once: the second waits for the first.
A channel whose newest message (from discovery) is not newer than its checkpoint costs no request at all, nor does
one the bot may not read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.store.progress import finish_attempt, start_attempt
from discord_sync.store.purge import clear_sync_state, purge_stored_messages
from discord_sync.store.sync_status import ChannelSyncStatus
from discord_sync.store.tenant_locks import tenant_lock
from discord_sync.sync.batch_writer import BatchWriter
from discord_sync.sync.channel_windows import ChannelSyncer
from discord_sync.sync.planning import plan_channels
from discord_sync.sync.progress_reporter import ProgressReporter
from discord_sync.sync.quiet_gc import quiet_garbage_collector
from discord_sync.sync.refresh import Refresher
from discord_sync.sync.refresh_plan import RefreshPolicy, RefreshWindow, plan_tenant_refresh, record_first_sync
from discord_sync.sync.report import SyncOptions, TenantSyncReport
from discord_sync.sync.windows import ChannelOutcome, ChannelPlan


class TenantSync:
    """Syncs one tenant's changed channels with a `ChannelSyncer`, writing every batch through its `BatchWriter`."""

    def __init__(
        self,
        *,
        engine: sa.Engine,
        tenant_id: str,
        run_id: str | None,
        anonymizer: Anonymizer,
        options: SyncOptions,
        log: logging.Logger | Any,
        refresh_policy: RefreshPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.anonymizer = anonymizer
        self.options = options
        self.log = log
        self.refresh_policy = refresh_policy or RefreshPolicy()
        # One writer for the windows' new history and the refresh's re-reads.
        self.writer = BatchWriter(engine, tenant_id, self.refresh_policy.deleted_messages)
        self._attempt_ids: dict[int, int] = {}
        self.progress = ProgressReporter(
            engine=engine,
            tenant_id=tenant_id,
            run_id=run_id,
            log=log,
            interval=options.progress_interval_seconds,
            attempt_ids=self._attempt_ids,
        )
        self._request_stats: dict[str, Any] = {}
        self._syncer: ChannelSyncer | None = None

    def _start_attempt(self, outcome: ChannelOutcome) -> None:
        channel_id = outcome.plan.channel_id
        with self.engine.begin() as conn:
            self._attempt_ids[channel_id] = start_attempt(conn, self.tenant_id, channel_id, self.run_id)

    def _finish_attempt(self, outcome: ChannelOutcome) -> None:
        channel_id = outcome.plan.channel_id
        errors = "; ".join(f"message {item}: {text}" for item, text in outcome.item_errors[:20])
        with self.engine.begin() as conn:
            finish_attempt(
                conn,
                self.tenant_id,
                channel_id,
                self._attempt_ids.get(channel_id),
                status=outcome.status,
                error="; ".join(filter(None, [outcome.error, errors])) or None,
                messages_written=outcome.messages,
                requests=outcome.requests,
                messages_per_second=outcome.messages / outcome.seconds,
                # Every batch has committed by now: the checkpoint may catch up with the stored prefix.
                checkpoint=outcome.checkpoint,
            )

    async def _on_start(self, outcome: ChannelOutcome) -> None:
        await asyncio.to_thread(self._start_attempt, outcome)
        self.log.info(
            f"channel_sync_started tenant={self.tenant_id} channel={outcome.plan.channel_id} "
            f"name={outcome.plan.name!r} after={outcome.plan.checkpoint}"
        )

    async def _on_done(self, outcome: ChannelOutcome) -> None:
        await asyncio.to_thread(self._finish_attempt, outcome)
        self.log.info(
            f"channel_sync_finished tenant={self.tenant_id} channel={outcome.plan.channel_id} "
            f"name={outcome.plan.name!r} status={outcome.status} messages={outcome.messages} "
            f"requests={outcome.requests} seconds={outcome.seconds:.2f} "
            f"messages_per_second={outcome.messages / outcome.seconds:.0f}"
            + (f" error={outcome.error!r}" if outcome.error else "")
        )

    def run(
        self,
        source_factory: Callable[[], Any],
        *,
        reset: bool = False,
        reset_channel: int | None = None,
        reconcile: bool = False,
        purge: bool = False,
    ) -> TenantSyncReport:
        """Sync the tenant's changed channels (after a reset, if asked), re-read what the refresh policy (or a
        reconcile) asks for, and report what happened; progress is written every few seconds while it runs.

        A reset (`reset`, or `reset_channel` for one channel) forgets checkpoints and attempts, keeps every stored
        row, reads everything again, then re-reads the scope's stored history as a reconcile does to confirm
        deletions. `purge` (with a reset only) first deletes the scope's stored messages: history no re-sync can
        bring back is lost."""
        report = TenantSyncReport()
        started = time.monotonic()
        with tenant_lock(self.engine, self.tenant_id, self.log):
            self.progress.open()
            try:
                self._run_locked(
                    report,
                    source_factory,
                    reset=reset,
                    reset_channel=reset_channel,
                    reconcile=reconcile,
                    purge=purge,
                )
            except BaseException as error:
                outcomes = [state.outcome for state in self._syncer.channels] if self._syncer else report.outcomes
                try:
                    self.progress.close(outcomes, self._request_stats, error=_plain_error(error))
                except Exception:  # the run's own error is the one to raise
                    self.log.warning(f"tenant {self.tenant_id}: could not record the run's failure")
                raise
            report.seconds = time.monotonic() - started
            self.progress.close(report.outcomes, report.request_stats)
        return report

    def _run_locked(
        self,
        report: TenantSyncReport,
        source_factory: Callable[[], Any],
        *,
        reset: bool,
        reset_channel: int | None,
        reconcile: bool,
        purge: bool,
    ) -> None:
        resetting = reset or reset_channel is not None
        if purge and not resetting:
            raise ValueError("a purge is part of a reset: ask for a reset of the tenant or of one channel with it")
        if resetting:
            self._reset(reset_channel, purge=purge)
        with self.engine.begin() as conn:
            # First: channels the bot may no longer read are marked skipped, so the refresh leaves them alone.
            plans, report.channels_unchanged, report.channels_not_readable = plan_channels(conn, self.tenant_id)
            # Planned before the new messages move the checkpoints: what this run fetches is not re-read.
            refresh = plan_tenant_refresh(
                conn, self.tenant_id, self.refresh_policy, datetime.now(UTC), reconcile=reconcile
            )
        self.progress.channels_unchanged = report.channels_unchanged
        self.log.info(
            f"tenant {self.tenant_id}: {len(plans)} channels have new messages, "
            f"{report.channels_unchanged} unchanged (no request needed), "
            f"{report.channels_not_readable} not readable by the bot's permissions (skipped, no request); "
            f"{len(refresh)} stored ranges to re-read{' (reconcile)' if reconcile else ''}"
        )
        if plans or refresh or resetting:
            with quiet_garbage_collector():
                (
                    report.outcomes,
                    report.peak_concurrent_channels,
                    report.request_stats,
                    report.refresh_stats,
                ) = asyncio.run(
                    self._run_async(
                        source_factory,
                        plans,
                        refresh,
                        reconcile or resetting,
                        (lambda: self._plan_reset_reread(reset_channel)) if resetting else None,
                    )
                )
            first_synced = [
                o.plan.channel_id
                for o in report.outcomes
                if o.status == ChannelSyncStatus.COMPLETE and not o.plan.checkpoint
            ]
            with self.engine.begin() as conn:
                record_first_sync(conn, self.tenant_id, first_synced, datetime.now(UTC))

    def _reset(self, reset_channel: int | None, *, purge: bool) -> None:
        """Forget the scope's checkpoints and attempts (and, for a purge, delete its stored messages), logged."""
        scope = f"channel {reset_channel}" if reset_channel is not None else "all channels"
        with self.engine.begin() as conn:
            if purge:
                purged = purge_stored_messages(conn, self.tenant_id, reset_channel)
                self.log.warning(f"tenant {self.tenant_id}: purge of {scope} deleted {purged.describe()}")
            cleared = clear_sync_state(conn, self.tenant_id, reset_channel)
        self.log.info(
            f"tenant {self.tenant_id}: reset {scope}; {cleared.checkpoints} checkpoints and {cleared.attempts} "
            "attempts cleared, stored messages kept; everything is read again and deletions confirmed by a re-read"
        )

    def _plan_reset_reread(self, reset_channel: int | None) -> list[RefreshWindow]:
        """After a reset's sync: the scope's whole stored history, re-read as a reconcile to confirm deletions
        (messages stored before the reset that Discord no longer returns)."""
        with self.engine.begin() as conn:
            windows = plan_tenant_refresh(conn, self.tenant_id, self.refresh_policy, datetime.now(UTC), reconcile=True)
        return [w for w in windows if reset_channel is None or w.channel_id == reset_channel]

    async def _run_async(
        self,
        source_factory: Callable[[], Any],
        plans: list[ChannelPlan],
        refresh: list[RefreshWindow],
        paced: bool,
        plan_after_sync: Callable[[], list[RefreshWindow]] | None = None,
    ) -> tuple:
        async with source_factory() as source:
            syncer = ChannelSyncer(
                tenant_id=self.tenant_id,
                source=source,
                anonymizer=self.anonymizer,
                write_batch=self.writer.write_batch,
                max_workers=self.options.max_channel_workers,
                max_windows_per_channel=self.options.max_windows_per_channel,
                fetch_size=self.options.message_fetch_size,
                batch_messages=self.options.write_batch_messages,
                on_channel_done=self._on_done,
                on_channel_start=self._on_start,
            )
            self._syncer = syncer
            done = asyncio.Event()
            reporting = asyncio.create_task(
                self.progress.report_until(done, syncer, lambda: source.stats.as_metadata())
            )
            try:
                outcomes = await syncer.run(plans) if plans else []
                if plan_after_sync is not None:
                    planned = {w.channel_id for w in refresh}
                    refresh = refresh + [
                        w for w in await asyncio.to_thread(plan_after_sync) if w.channel_id not in planned
                    ]
                refresher = Refresher(
                    engine=self.engine,
                    tenant_id=self.tenant_id,
                    writer=self.writer,
                    source=source,
                    anonymizer=self.anonymizer,
                    policy=self.refresh_policy,
                    fetch_size=self.options.message_fetch_size,
                    max_workers=self.options.max_channel_workers,
                    paced=paced,
                    log=self.log,
                )
                refreshed = await refresher.run(refresh)
            finally:
                self._request_stats = source.stats.as_metadata()
                done.set()
                await reporting
            return outcomes, syncer.peak_concurrent_channels, self._request_stats, refreshed.metadata()


def _plain_error(error: BaseException) -> str:
    """A failed run's error for `sync_runs`: the exception's own message (the product's errors are plain words)."""
    if not isinstance(error, Exception):  # KeyboardInterrupt, CancelledError, Dagster's interrupt of a canceled run
        return "the run was interrupted"
    return f"{type(error).__name__}: {error}"[:500]
