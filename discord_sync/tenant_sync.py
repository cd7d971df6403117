"""One tenant's message sync: plan the changed channels, run them in parallel, record every outcome.

Runs under a per-tenant PostgreSQL advisory lock, so two syncs of one tenant (a queued run and a CLI
`materialize`, an hourly tick during a long backfill) never write at once: the second waits for the first.
A channel whose newest message (from discovery) is not newer than its checkpoint costs no request at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from discord_sync.anonymize import Anonymizer
from discord_sync.channel_sync import ChannelOutcome, ChannelPlan, ChannelSyncer
from discord_sync.retention import delete_old_sync_jobs
from discord_sync.rows import MESSAGE_BEARING_TYPES, MessageRows
from discord_sync.schema import (
    channel_sync_jobs,
    channels,
    message_attachments,
    message_emoji_reactions,
    messages,
    sync_progress,
)
from discord_sync.writer import write_message_batch

_LOCK_CLASS = 0x6473  # advisory-lock namespace of tenant syncs
LOCK_POLL_SECONDS = 1.0
GC_YOUNG_THRESHOLD = 10_000  # allocations between two young-generation collections (Python's default: 700)


@dataclass(frozen=True)
class SyncOptions:
    """How hard a tenant's sync may push: workers, windows per channel, page and write batch sizes."""

    max_channel_workers: int = 10
    max_windows_per_channel: int = 5
    message_fetch_size: int = 100
    write_batch_messages: int = 2000


@dataclass
class TenantSyncReport:
    """What one tenant sync did; becomes the materializations' metadata."""

    channels_planned: int = 0
    channels_unchanged: int = 0
    outcomes: list[ChannelOutcome] = field(default_factory=list)
    seconds: float = 0.0
    peak_concurrent_channels: int = 0
    request_stats: dict[str, Any] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def messages(self) -> int:
        return sum(o.messages for o in self.outcomes)

    @property
    def all_failed(self) -> bool:
        return bool(self.outcomes) and all(o.status in ("failed", "skipped") for o in self.outcomes)

    def metadata(self) -> dict[str, Any]:
        seconds = max(self.seconds, 1e-6)
        return {
            "channels_synced": self.count("complete"),
            "channels_unchanged": self.channels_unchanged,
            "channels_skipped": self.count("skipped"),
            "channels_failed": self.count("failed"),
            "messages_synced": self.messages,
            "reactions_synced": sum(o.reactions for o in self.outcomes),
            "attachments_synced": sum(o.attachments for o in self.outcomes),
            "malformed_items": sum(len(o.item_errors) for o in self.outcomes),
            "messages_per_second": round(self.messages / seconds, 1),
            "channels_per_minute": round(len(self.outcomes) / seconds * 60, 1),
            "peak_concurrent_channels": self.peak_concurrent_channels,
            "sync_seconds": round(self.seconds, 2),
            **self.request_stats,
        }


@contextlib.contextmanager
def tenant_lock(engine: sa.Engine, tenant_id: str, log: logging.Logger | Any) -> Iterator[None]:
    """Hold the tenant's sync lock for the block; wait (and say so) while another sync holds it."""
    with engine.connect() as conn:
        args = {"cls": _LOCK_CLASS, "tenant": tenant_id}
        waited = False
        while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:cls, hashtext(:tenant))"), args).scalar():
            if not waited:
                log.info(f"tenant {tenant_id}: another sync of this tenant is running; waiting for it to finish")
                waited = True
            conn.rollback()
            time.sleep(LOCK_POLL_SECONDS)
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:cls, hashtext(:tenant))"), args)
            conn.commit()


def reset_tenant(conn: sa.Connection, tenant_id: str, channel_id: int | None = None) -> int:
    """Forget stored messages and checkpoints (of one channel, or of the whole tenant) so they sync again."""
    where_messages = messages.c.tenant_id == tenant_id
    where_progress = sync_progress.c.tenant_id == tenant_id
    if channel_id is not None:
        where_messages &= messages.c.channel_id == channel_id
        where_progress &= sync_progress.c.channel_id == channel_id
    # Reactions and attachments hang on their message without a foreign key (schema.py): they go first.
    for child in (message_emoji_reactions, message_attachments):
        where_child = child.c.tenant_id == tenant_id
        if channel_id is not None:
            where_child &= child.c.message_id.in_(sa.select(messages.c.id).where(where_messages))
        conn.execute(child.delete().where(where_child))
    deleted = conn.execute(messages.delete().where(where_messages)).rowcount
    conn.execute(sync_progress.delete().where(where_progress))
    return deleted


def plan_channels(conn: sa.Connection, tenant_id: str) -> tuple[list[ChannelPlan], int]:
    """Channels with messages newer than their checkpoint, and how many message-bearing channels are unchanged.

    Unchanged channels get a `complete` progress row if they had none, so every visible channel is accounted for.
    """
    rows = conn.execute(
        sa.select(channels.c.id, channels.c.name, channels.c.last_message_id, sync_progress.c.last_message_id.label("checkpoint"), sync_progress.c.status)
        .select_from(channels.outerjoin(
            sync_progress, (sync_progress.c.tenant_id == channels.c.tenant_id) & (sync_progress.c.channel_id == channels.c.id)
        ))
        .where(channels.c.tenant_id == tenant_id, channels.c.deleted_at.is_(None), channels.c.type.in_(MESSAGE_BEARING_TYPES))
        .order_by(channels.c.id)
    ).all()
    plans, unchanged = [], []
    for row in rows:
        checkpoint = row.checkpoint or 0
        if row.last_message_id is not None and row.last_message_id > checkpoint:
            plans.append(ChannelPlan(row.id, row.name, checkpoint, row.last_message_id))
        elif row.status is None:
            unchanged.append(row.id)
    if unchanged:
        conn.execute(
            pg_insert(sync_progress)
            .values([{"tenant_id": tenant_id, "channel_id": c, "status": "complete", "last_synced_at": sa.func.now()} for c in unchanged])
            .on_conflict_do_nothing()
        )
    return plans, len(rows) - len(plans)


@contextlib.contextmanager
def _quiet_garbage_collector() -> Iterator[None]:
    """Keep Python's cyclic garbage collector from pausing the event loop during a sync.

    What is alive when the sync starts (Dagster, the definitions, every import) outlives it: frozen, it is left out
    of the collector's full passes, which otherwise stop the loop for up to ~400 ms. Pages of parsed JSON are freed
    by reference counting, not by the collector, so it may run ~14 times less often. Measured on one 300,000-message
    sync: 8 s of collection, pauses up to 100 ms, before. A paused loop sends its paced requests late, and a request
    too late gives its slot up.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class TenantSync:
    """Syncs one tenant's changed channels with a `ChannelSyncer`, writing every batch through `writer`."""

    def __init__(
        self,
        *,
        engine: sa.Engine,
        tenant_id: str,
        run_id: str | None,
        anonymizer: Anonymizer,
        options: SyncOptions,
        log: logging.Logger | Any,
    ) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.anonymizer = anonymizer
        self.options = options
        self.log = log
        self._job_ids: dict[int, int] = {}

    def _write_batch_now(self, channel_id: int, rows: MessageRows, checkpoint: int, status: str) -> None:
        with self.engine.begin() as conn:
            write_message_batch(conn, self.tenant_id, channel_id, rows, checkpoint=checkpoint, status=status)

    async def _write_batch(self, channel_id: int, rows: MessageRows, checkpoint: int, status: str) -> None:
        await asyncio.to_thread(self._write_batch_now, channel_id, rows, checkpoint, status)

    def _start_job(self, outcome: ChannelOutcome) -> None:
        plan = outcome.plan
        with self.engine.begin() as conn:
            self._job_ids[plan.channel_id] = conn.execute(
                channel_sync_jobs.insert()
                .values(tenant_id=self.tenant_id, channel_id=plan.channel_id, run_id=self.run_id, status="running")
                .returning(channel_sync_jobs.c.id)
            ).scalar_one()
            conn.execute(
                pg_insert(sync_progress)
                .values(tenant_id=self.tenant_id, channel_id=plan.channel_id, status="running")
                .on_conflict_do_update(
                    index_elements=["tenant_id", "channel_id"], set_={"status": "running", "updated_at": sa.func.now()}
                )
            )

    def _finish_job(self, outcome: ChannelOutcome) -> None:
        plan = outcome.plan
        errors = "; ".join(f"message {item}: {text}" for item, text in outcome.item_errors[:20])
        error = "; ".join(filter(None, [outcome.error, errors])) or None
        with self.engine.begin() as conn:
            conn.execute(
                channel_sync_jobs.update()
                .where(channel_sync_jobs.c.id == self._job_ids.get(plan.channel_id))
                .values(
                    status=outcome.status, finished_at=sa.func.now(), messages=outcome.messages,
                    requests=outcome.requests, messages_per_second=outcome.messages / outcome.seconds, error=error,
                )
            )
            conn.execute(
                sync_progress.update()
                .where(sync_progress.c.tenant_id == self.tenant_id, sync_progress.c.channel_id == plan.channel_id)
                .values(
                    status=outcome.status, last_error=error, updated_at=sa.func.now(), last_synced_at=sa.func.now(),
                    # Every batch has committed by now: the checkpoint may catch up with the stored prefix.
                    last_message_id=sa.func.greatest(sync_progress.c.last_message_id, outcome.checkpoint or None),
                )
            )

    async def _on_start(self, outcome: ChannelOutcome) -> None:
        await asyncio.to_thread(self._start_job, outcome)
        self.log.info(
            f"channel_sync_started tenant={self.tenant_id} channel={outcome.plan.channel_id} "
            f"name={outcome.plan.name!r} after={outcome.plan.checkpoint}"
        )

    async def _on_done(self, outcome: ChannelOutcome) -> None:
        await asyncio.to_thread(self._finish_job, outcome)
        self.log.info(
            f"channel_sync_finished tenant={self.tenant_id} channel={outcome.plan.channel_id} "
            f"name={outcome.plan.name!r} status={outcome.status} messages={outcome.messages} "
            f"requests={outcome.requests} seconds={outcome.seconds:.2f} "
            f"messages_per_second={outcome.messages / outcome.seconds:.0f}"
            + (f" error={outcome.error!r}" if outcome.error else "")
        )

    def run(self, source_factory: Callable[[], Any], *, reset: bool = False, reset_channel: int | None = None) -> TenantSyncReport:
        """Sync the tenant's changed channels (after a reset, if asked) and report what happened."""
        report = TenantSyncReport()
        started = time.monotonic()
        with tenant_lock(self.engine, self.tenant_id, self.log):
            if reset or reset_channel is not None:
                with self.engine.begin() as conn:
                    deleted = reset_tenant(conn, self.tenant_id, reset_channel)
                scope = f"channel {reset_channel}" if reset_channel is not None else "all channels"
                self.log.info(f"tenant {self.tenant_id}: reset {scope}; {deleted} stored messages will be synced again")
            with self.engine.begin() as conn:
                plans, report.channels_unchanged = plan_channels(conn, self.tenant_id)
            report.channels_planned = len(plans)
            self.log.info(
                f"tenant {self.tenant_id}: {len(plans)} channels have new messages, "
                f"{report.channels_unchanged} unchanged (no request needed)"
            )
            if plans:
                with _quiet_garbage_collector():
                    report.outcomes, report.peak_concurrent_channels, report.request_stats = asyncio.run(
                        self._run_async(source_factory, plans)
                    )
            report.seconds = time.monotonic() - started
            if not report.all_failed:
                with self.engine.begin() as conn:
                    delete_old_sync_jobs(conn)
        return report

    async def _run_async(self, source_factory: Callable[[], Any], plans: list[ChannelPlan]) -> tuple:
        async with source_factory() as source:
            syncer = ChannelSyncer(
                tenant_id=self.tenant_id,
                source=source,
                anonymizer=self.anonymizer,
                write_batch=self._write_batch,
                max_workers=self.options.max_channel_workers,
                max_windows_per_channel=self.options.max_windows_per_channel,
                fetch_size=self.options.message_fetch_size,
                batch_messages=self.options.write_batch_messages,
                on_channel_done=self._on_done,
                on_channel_start=self._on_start,
            )
            outcomes = await syncer.run(plans)
            return outcomes, syncer.peak_concurrent_channels, source.stats.as_metadata()
