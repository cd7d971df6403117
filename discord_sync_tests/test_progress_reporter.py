"""What the live progress of a run says: its totals, outcome, errors and the `sync-metrics` line (pure), and that
the reporter's writes land on the run's row and its running attempts (database)."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from discord_sync.store.progress import start_attempt
from discord_sync.store.schema import channel_sync_jobs, sync_runs
from discord_sync.sync.channel_windows import ChannelOutcome, ChannelPlan
from discord_sync.sync.progress_reporter import (
    METRICS_MARKER,
    ProgressReporter,
    metrics_line,
    run_errors,
    run_outcome,
    run_totals,
)

STATS = {"discord_requests": 40, "rate_limit_hits_429": 2, "invalid_requests": 2, "limiter_wait_seconds": 1.25}


def outcome(channel_id: int, status: str, messages: int = 0, requests: int = 1, error: str | None = None):
    result = ChannelOutcome(
        plan=ChannelPlan(channel_id=channel_id, name=f"c{channel_id}", checkpoint=0, last_message_id=10**6),
        status=status,
        messages=messages,
        requests=requests,
        error=error,
    )
    result.checkpoint = 1000 + messages
    return result


@pytest.mark.unit
def test_run_totals_count_channels_by_state_and_sum_messages_requests_and_waits():
    outcomes = [
        outcome(1, "complete", 100),
        outcome(2, "running", 50),
        outcome(3, "running", 0, requests=0),
        outcome(4, "failed", 5, error="boom"),
        outcome(5, "skipped"),
    ]
    totals = run_totals(outcomes, channels_unchanged=7, seconds=10.0, request_stats=STATS)
    assert totals == {
        "channels_total": 12,
        "channels_unchanged": 7,
        "channels_complete": 1,
        "channels_skipped": 1,
        "channels_failed": 1,
        "channels_running": 1,  # a planned channel without a request yet is not running
        "messages": 155,
        "messages_per_second": 15.5,
        "discord_requests": 40,
        "rate_limit_hits": 2,
        "invalid_requests": 2,
        "limiter_wait_seconds": 1.25,
    }


@pytest.mark.unit
@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "complete"),
        (["complete", "skipped"], "complete"),
        (["complete", "failed"], "partial"),
        (["failed", "skipped"], "failed"),
        (["skipped"], "failed"),
    ],
)
def test_run_outcome_is_partial_when_some_channels_failed_and_failed_when_none_completed(statuses, expected):
    assert run_outcome([outcome(i, s) for i, s in enumerate(statuses)]) == expected


@pytest.mark.unit
def test_run_errors_name_the_first_failed_channels_and_count_the_rest():
    failed = [outcome(i, "failed", error=f"err {i}") for i in range(7)]
    text = run_errors([outcome(99, "complete"), *failed])
    assert text.startswith("7 channel(s) failed: channel 0 (c0): err 0;")
    assert "channel 4 (c4): err 4; and 2 more" in text and "c5" not in text
    assert run_errors([outcome(1, "complete"), outcome(2, "skipped", error="403")]) is None


@pytest.mark.unit
def test_the_metrics_line_is_the_marker_then_one_json_object():
    totals = run_totals(
        [outcome(1, "complete", 600), outcome(2, "running", 0)], channels_unchanged=0, seconds=30.0, request_stats=STATS
    )
    line = metrics_line("acme", "run-1", totals, seconds=30.0, concurrent=1, final=False)
    marker, payload = line.split(" ", 1)
    assert marker == METRICS_MARKER
    assert json.loads(payload) == {
        "tenant": "acme",
        "run_id": "run-1",
        "final": False,
        "seconds": 30.0,
        "channels_done": 1,
        "channels_total": 2,
        "channels_per_minute": 2.0,
        "messages": 600,
        "messages_per_second": 20.0,
        "concurrent_channels": 1,
        "rate_limit_hits_429": 2,
        "limiter_wait_seconds": 1.25,
    }


@pytest.mark.integration
def test_the_reporter_writes_running_attempts_and_the_run_row_and_a_finished_row_keeps_its_final_totals(
    engine, tenant_with_channel, caplog
):
    attempt_ids: dict[int, int] = {}
    with engine.begin() as conn:
        attempt_ids[900] = start_attempt(conn, "acme", 900, "run-live")
    reporter = ProgressReporter(
        engine=engine,
        tenant_id="acme",
        run_id="run-live",
        log=logging.getLogger("test"),
        interval=1.0,
        attempt_ids=attempt_ids,
    )
    reporter.open()
    running = outcome(900, "running", 250)
    with caplog.at_level(logging.INFO, logger="test"):
        reporter._report([running], STATS, 1)
    with engine.connect() as conn:
        attempt = conn.execute(sa.select(channel_sync_jobs).where(channel_sync_jobs.c.id == attempt_ids[900])).one()
        row = conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == "run-live")).one()
    assert (attempt.status, attempt.messages, attempt.last_message_id) == ("running", 250, 1250)
    assert attempt.progress_at is not None and attempt.messages_per_second > 0
    assert (row.outcome, row.messages, row.channels_running, row.rate_limit_hits) == ("running", 250, 1, 2)
    assert any(r.getMessage().startswith("sync-metrics {") for r in caplog.records)

    running.status = "complete"
    reporter.close([running], STATS)
    reporter._report([outcome(900, "running", 1)], STATS, 1)  # a late interval write changes nothing now
    with engine.connect() as conn:
        row = conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == "run-live")).one()
    assert (row.outcome, row.messages, row.channels_complete) == ("complete", 250, 1)
    assert row.finished_at is not None and row.error is None


@pytest.mark.integration
def test_a_run_that_breaks_is_recorded_failed_with_its_error(engine, tenant_with_channel):
    reporter = ProgressReporter(
        engine=engine,
        tenant_id="acme",
        run_id="run-broken",
        log=logging.getLogger("test"),
        interval=1.0,
        attempt_ids={},
    )
    reporter.open()
    reporter.close([], {}, error="SourceError: the bot token was rejected (401)")
    with engine.connect() as conn:
        row = conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == "run-broken")).one()
    assert row.outcome == "failed" and row.error == "SourceError: the bot token was rejected (401)"
