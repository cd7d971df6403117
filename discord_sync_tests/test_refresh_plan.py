"""Table-driven tests of the refresh policy's pure planning: which stored ranges a run re-reads, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from discord_sync.shaping.rows import snowflake_at
from discord_sync.sync.refresh import RequestPacer
from discord_sync.sync.refresh_plan import (
    DAILY,
    DELETION_SIGNAL,
    HOURLY,
    RECONCILE,
    RefreshPolicy,
    plan_refresh,
    thread_deletions,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(moment: datetime) -> int:
    return snowflake_at(int(moment.timestamp() * 1000))


@dataclass
class Row:
    """A channel as `store.refreshes.channels_to_refresh` returns it."""

    id: int = 1
    name: str = "general"
    is_thread: bool = False
    archived: bool | None = None
    archived_at: datetime | None = None
    created_at: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    message_count: int | None = None
    total_message_sent: int | None = None
    checkpoint: int = at(NOW - HOUR)
    hourly_refreshed_at: datetime | None = NOW - HOUR
    daily_refreshed_at: datetime | None = NOW - 2 * HOUR
    reconciled_at: datetime | None = None
    deletions_seen: int | None = None


def thread(**fields) -> Row:
    return Row(**{"is_thread": True, "message_count": 8, "total_message_sent": 10, "deletions_seen": 2, **fields})


DEFAULT_POLICY = RefreshPolicy()


def plan(row: Row, policy: RefreshPolicy = DEFAULT_POLICY, reconcile: bool = False):
    windows, _ = plan_refresh([row], policy, NOW, reconcile=reconcile)
    return [(w.after, w.upto, set(w.horizons)) for w in windows]


@pytest.mark.parametrize(
    "row, expected",
    [
        # A channel active in the last day: its last 24 h, every run.
        (Row(), [(at(NOW - 24 * HOUR), at(NOW - HOUR), {HOURLY})]),
        # Nothing stored in the last day: nothing there can change, no request.
        (Row(checkpoint=at(NOW - 30 * HOUR)), []),
        # The daily re-read is due: the last 7 days (which include the last 24 h).
        (Row(daily_refreshed_at=NOW - 25 * HOUR), [(at(NOW - 7 * 24 * HOUR), at(NOW - HOUR), {DAILY, HOURLY})]),
        (
            Row(daily_refreshed_at=None, checkpoint=at(NOW - 3 * 24 * HOUR)),
            [(at(NOW - 7 * 24 * HOUR), at(NOW - 3 * 24 * HOUR), {DAILY, HOURLY})],
        ),
        # Stored messages older than 7 days only: a reconcile's business.
        (Row(daily_refreshed_at=None, checkpoint=at(NOW - 8 * 24 * HOUR)), []),
        # A thread whose counters show a new deletion: all of it, whatever its age.
        (
            thread(total_message_sent=11, checkpoint=at(NOW - 100 * 24 * HOUR)),
            [(0, at(NOW - 100 * 24 * HOUR), {DELETION_SIGNAL, DAILY, HOURLY})],
        ),
        # The same counters as last time: only the horizons.
        (thread(), [(at(NOW - 24 * HOUR), at(NOW - HOUR), {HOURLY})]),
        # Archived before its last re-read: only a deletion could change it.
        (thread(archived=True, archived_at=NOW - 3 * HOUR), []),
        # Archived since its last re-read: read once more.
        (
            thread(archived=True, archived_at=NOW - HOUR / 2, hourly_refreshed_at=NOW - HOUR),
            [(at(NOW - 24 * HOUR), at(NOW - HOUR), {HOURLY})],
        ),
        # Before 2022-07-01 a thread stopped counting at 50: its counters prove nothing.
        (
            thread(
                created_at=datetime(2021, 1, 1, tzinfo=UTC),
                message_count=50,
                total_message_sent=50,
                deletions_seen=0,
                archived=True,
                archived_at=NOW - 3 * HOUR,
            ),
            [],
        ),
    ],
)
def test_refresh_plan_reads_only_what_a_horizon_or_a_signal_asks_for(row, expected):
    assert plan(row) == expected


def test_reconcile_reads_every_channel_whole_whatever_its_age():
    assert plan(Row(checkpoint=at(NOW - 900 * 24 * HOUR)), reconcile=True) == [
        (0, at(NOW - 900 * 24 * HOUR), {RECONCILE, DAILY, HOURLY})
    ]


def test_horizons_set_to_zero_turn_their_re_reads_off():
    off = RefreshPolicy(hourly_horizon=timedelta(0), daily_horizon=timedelta(0))
    assert plan(Row(daily_refreshed_at=None), off) == []
    assert plan(Row(), RefreshPolicy(hourly_horizon=timedelta(hours=2))) == [
        (at(NOW - 2 * HOUR), at(NOW - HOUR), {HOURLY})
    ]


def test_a_thread_seen_for_the_first_time_records_its_counters_as_the_baseline():
    windows, baselines = plan_refresh(
        [thread(deletions_seen=None, checkpoint=at(NOW - 30 * 24 * HOUR))], RefreshPolicy(), NOW
    )
    assert windows == [] and baselines == [(1, 2)]


@pytest.mark.parametrize(
    "row, expected",
    [
        (Row(), None),
        (thread(), 2),
        (thread(message_count=None), None),
        (thread(created_at=datetime(2022, 6, 30, tzinfo=UTC), message_count=50, total_message_sent=50), None),
        (thread(created_at=datetime(2022, 6, 30, tzinfo=UTC), message_count=40, total_message_sent=45), 5),
    ],
)
def test_thread_deletions_from_counters(row, expected):
    assert thread_deletions(row) == expected


def test_a_reconcile_pacer_hands_out_slots_one_interval_apart_and_none_in_the_past():
    pacer = RequestPacer(per_second=4)
    assert [pacer.reserve(10.0) for _ in range(3)] == [0.0, 0.25, 0.5]
    assert pacer.reserve(10.6) == pytest.approx(0.15)  # the next slot is 10.75
    assert pacer.reserve(20.0) == 0.0  # an idle pacer does not bank slots
