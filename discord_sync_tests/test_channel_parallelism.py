"""The parallelism the product is built on: one tenant's run syncs several channels at once, never more than
`SYNC_MAX_CHANNEL_WORKERS`, and writes each running channel's progress while it runs.

The emulator answers every request after a delay, so a channel's sync lasts long enough to be seen from outside:
a second thread watches `channel_sync_jobs` while the run goes on, and afterwards the attempts' start and end
times (written by the run itself) show how many channels were in flight at once.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.store.schema import channel_sync_jobs
from discord_sync_tests.sync_harness import (
    TEST_TOKEN,
    create_tenant,
    expected_message_ids,
    materialize_tenant,
    stored_message_ids,
    sync_env,
)

pytestmark = pytest.mark.integration

LATENCY_MS = 25


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of intervals that overlap at one moment (an end at the very moment of a start does not
    overlap it)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    return peak


@pytest.mark.unit
@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        pytest.param([], 0, id="none"),
        pytest.param([(0, 10), (10, 20)], 1, id="end-meets-start"),
        pytest.param([(0, 10), (5, 15), (6, 7), (20, 30)], 3, id="nested"),
    ],
)
def test_most_at_once_counts_overlapping_intervals(intervals: list[tuple[int, int]], expected: int) -> None:
    as_times = [(datetime.fromtimestamp(start), datetime.fromtimestamp(end)) for start, end in intervals]
    assert most_at_once(as_times) == expected


def running_with_progress(engine: sa.Engine, tenant_id: str) -> set[int]:
    """Channels whose attempt is running and already has live progress written (messages stored so far)."""
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.select(channel_sync_jobs.c.channel_id).where(
                    channel_sync_jobs.c.tenant_id == tenant_id,
                    channel_sync_jobs.c.status == "running",
                    channel_sync_jobs.c.progress_at.is_not(None),
                    channel_sync_jobs.c.messages > 0,
                )
            ).scalars()
        )


@pytest.mark.parametrize("workers", [1, 3])
def test_a_tenant_syncs_channels_side_by_side_up_to_the_worker_cap_and_shows_their_progress_while_they_run(
    engine, monkeypatch, workers
):
    with Emulator(guilds=[GuildSpec(seed=1, scale=0.05)], token=TEST_TOKEN, latency_ms=LATENCY_MS) as emulator:
        sync_env(
            monkeypatch,
            emulator,
            SYNC_MAX_CHANNEL_WORKERS=str(workers),
            # One window per channel: every worker busy is one more channel in flight.
            SYNC_MAX_WINDOWS_PER_CHANNEL="1",
            SYNC_MESSAGE_FETCH_SIZE="25",
            SYNC_WRITE_BATCH_MESSAGES="50",
            SYNC_PROGRESS_INTERVAL="0.1",
        )
        create_tenant(engine, "acme", emulator.guild_ids[0])
        result: dict = {}
        syncing = threading.Thread(target=lambda: result.update(run=materialize_tenant("acme")))
        syncing.start()
        seen_moving: set[int] = set()
        most_moving_at_once = 0
        while syncing.is_alive():
            moving = running_with_progress(engine, "acme")
            seen_moving |= moving
            most_moving_at_once = max(most_moving_at_once, len(moving))
            time.sleep(0.05)
        syncing.join()
        truth = emulator.client.ground_truth(emulator.guild_ids[0])
    assert result["run"].success
    assert stored_message_ids(engine, "acme") == expected_message_ids(truth)

    with engine.connect() as conn:
        attempts = conn.execute(
            sa.select(channel_sync_jobs.c.started_at, channel_sync_jobs.c.finished_at).where(
                channel_sync_jobs.c.tenant_id == "acme",
                channel_sync_jobs.c.run_id == result["run"].run_id,
                channel_sync_jobs.c.requests > 0,
            )
        ).all()
    assert len(attempts) > 3 * workers, "too few channels for the cap to bind"
    assert all(finished is not None for _, finished in attempts)
    # The attempts' own times: as many channels in flight as there are workers, never more.
    assert most_at_once([(started, finished) for started, finished in attempts]) == workers
    # Watched from outside while the run went on: channels with their progress already written, side by side
    # when the cap allows it.
    assert len(seen_moving) >= 2
    assert most_moving_at_once <= workers
    if workers > 1:
        assert most_moving_at_once >= 2
