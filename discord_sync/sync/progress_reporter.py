"""Live progress of a tenant's run: every few seconds, the channels' numbers and the run's totals go to PostgreSQL
and one structured `sync-metrics` log line goes to the run's log; once more at the end.

It only reads the syncer's in-memory outcomes (no lock, one event loop) and writes in a worker thread, one
transaction per interval, so the sync itself never waits for it. What it writes is what the API's sync status,
`discord-sync sync status` and the Dagster UI (the run's log) show while a long initial sync moves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from discord_sync.store.progress import record_attempts_progress
from discord_sync.store.sync_runs import finish_run, start_run, update_run
from discord_sync.store.sync_status import ChannelSyncStatus, RunOutcome
from discord_sync.sync.channel_windows import ChannelSyncer
from discord_sync.sync.windows import ChannelOutcome

METRICS_MARKER = "sync-metrics"


def run_totals(
    outcomes: Sequence[ChannelOutcome],
    *,
    channels_unchanged: int,
    seconds: float,
    request_stats: dict[str, Any],
) -> dict[str, Any]:
    """The run's totals so far, as `sync_runs` columns: channels by state, messages, requests, 429s, limiter waits."""
    statuses = [o.status for o in outcomes]
    messages = sum(o.messages for o in outcomes)
    return {
        "channels_total": len(outcomes) + channels_unchanged,
        "channels_unchanged": channels_unchanged,
        "channels_complete": statuses.count(ChannelSyncStatus.COMPLETE),
        "channels_skipped": statuses.count(ChannelSyncStatus.SKIPPED),
        "channels_failed": statuses.count(ChannelSyncStatus.FAILED),
        "channels_running": sum(1 for o in outcomes if o.status == ChannelSyncStatus.RUNNING and o.requests),
        "messages": messages,
        "messages_per_second": round(messages / max(seconds, 1e-6), 1),
        "discord_requests": int(request_stats.get("discord_requests", 0)),
        "rate_limit_hits": int(request_stats.get("rate_limit_hits_429", 0)),
        "invalid_requests": int(request_stats.get("invalid_requests", 0)),
        "limiter_wait_seconds": float(request_stats.get("limiter_wait_seconds", 0.0)),
    }


def run_outcome(outcomes: Sequence[ChannelOutcome]) -> RunOutcome:
    """`failed` if no channel completed (and some were tried), `partial` if some failed, else `complete`."""
    unsynced = (ChannelSyncStatus.FAILED, ChannelSyncStatus.SKIPPED)
    if outcomes and all(o.status in unsynced for o in outcomes):
        return RunOutcome.FAILED
    return RunOutcome.PARTIAL if any(o.status == ChannelSyncStatus.FAILED for o in outcomes) else RunOutcome.COMPLETE


def run_errors(outcomes: Sequence[ChannelOutcome], *, limit: int = 5) -> str | None:
    """The first failed channels with their errors, in plain words; None when nothing failed."""
    failed = [o for o in outcomes if o.status == ChannelSyncStatus.FAILED]
    if not failed:
        return None
    listed = "; ".join(f"channel {o.plan.channel_id} ({o.plan.name}): {o.error}" for o in failed[:limit])
    more = f"; and {len(failed) - limit} more" if len(failed) > limit else ""
    return f"{len(failed)} channel(s) failed: {listed}{more}"


def metrics_line(
    tenant_id: str, run_id: str | None, totals: dict[str, Any], *, seconds: float, concurrent: int, final: bool
) -> str:
    """The `sync-metrics` log line: the marker, then one JSON object."""
    finished = totals["channels_complete"] + totals["channels_skipped"] + totals["channels_failed"]
    payload = {
        "tenant": tenant_id,
        "run_id": run_id,
        "final": final,
        "seconds": round(seconds, 1),
        "channels_done": finished,
        "channels_total": totals["channels_total"],
        "channels_per_minute": round(finished / max(seconds, 1e-6) * 60, 1),
        "messages": totals["messages"],
        "messages_per_second": totals["messages_per_second"],
        "concurrent_channels": concurrent,
        "rate_limit_hits_429": totals["rate_limit_hits"],
        "limiter_wait_seconds": round(totals["limiter_wait_seconds"], 2),
    }
    return f"{METRICS_MARKER} {json.dumps(payload, sort_keys=True)}"


class ProgressReporter:
    """Writes one tenant run's live progress to `sync_runs` and `channel_sync_jobs`, and logs `sync-metrics`."""

    def __init__(
        self,
        *,
        engine: sa.Engine,
        tenant_id: str,
        run_id: str | None,
        log: logging.Logger | Any,
        interval: float,
        attempt_ids: dict[int, int],
    ) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.log = log
        self.interval = interval
        self.attempt_ids = attempt_ids
        self.started = time.monotonic()
        self.channels_unchanged = 0

    def open(self) -> None:
        """Record that the run started syncing (runs outside Dagster, without a run id, keep no row)."""
        if self.run_id is not None:
            with self.engine.begin() as conn:
                start_run(conn, self.tenant_id, self.run_id)

    async def report_until(
        self, done: asyncio.Event, syncer: ChannelSyncer, request_stats: Callable[[], dict[str, Any]]
    ) -> None:
        """Report every `interval` seconds until `done` is set; a write in flight finishes before this returns."""
        while True:
            try:
                await asyncio.wait_for(done.wait(), self.interval)
                return
            except TimeoutError:
                pass
            outcomes = [channel.outcome for channel in syncer.channels]
            concurrent = sum(1 for channel in syncer.channels if channel.active_windows())
            try:
                await asyncio.to_thread(self._report, outcomes, request_stats(), concurrent)
            except Exception as error:  # progress is informative: a failed write must not fail the sync
                self.log.warning(f"tenant {self.tenant_id}: could not record live progress: {type(error).__name__}")

    def _report(self, outcomes: list[ChannelOutcome], stats: dict[str, Any], concurrent: int) -> None:
        seconds = time.monotonic() - self.started
        totals = run_totals(outcomes, channels_unchanged=self.channels_unchanged, seconds=seconds, request_stats=stats)
        running = [
            {
                "attempt_id": self.attempt_ids[o.plan.channel_id],
                "messages": o.messages,
                "messages_per_second": round(o.messages / o.seconds, 1),
                "requests": o.requests,
                "last_message_id": o.checkpoint or None,
            }
            for o in outcomes
            if o.status == ChannelSyncStatus.RUNNING and o.plan.channel_id in self.attempt_ids
        ]
        if self.run_id is not None:
            with self.engine.begin() as conn:
                record_attempts_progress(conn, running)
                update_run(conn, self.run_id, totals)
        self.log.info(
            metrics_line(self.tenant_id, self.run_id, totals, seconds=seconds, concurrent=concurrent, final=False)
        )

    def close(self, outcomes: Sequence[ChannelOutcome], stats: dict[str, Any], *, error: str | None = None) -> None:
        """Write the run's final totals and outcome (`failed` with `error` when the run itself broke) and log them."""
        seconds = time.monotonic() - self.started
        totals = run_totals(outcomes, channels_unchanged=self.channels_unchanged, seconds=seconds, request_stats=stats)
        outcome = RunOutcome.FAILED if error else run_outcome(outcomes)
        if self.run_id is not None:
            with self.engine.begin() as conn:
                finish_run(conn, self.run_id, outcome=outcome, totals=totals, error=error or run_errors(outcomes))
        self.log.info(metrics_line(self.tenant_id, self.run_id, totals, seconds=seconds, concurrent=0, final=True))
