"""What a tenant sync reports as its materializations' metadata (`report.TenantSyncReport`)."""

from __future__ import annotations

import pytest

from discord_sync.store.sync_status import ChannelSyncStatus
from discord_sync.sync.report import TenantSyncReport
from discord_sync.sync.windows import ChannelOutcome, ChannelPlan

pytestmark = pytest.mark.unit


def outcome(status: ChannelSyncStatus, messages: int = 0, **counts: int) -> ChannelOutcome:
    return ChannelOutcome(plan=ChannelPlan(1, "c", 0, 10), status=status, messages=messages, **counts)


def test_metadata_counts_channels_by_outcome_and_sums_what_was_written() -> None:
    report = TenantSyncReport(
        channels_unchanged=7,
        outcomes=[
            outcome(ChannelSyncStatus.COMPLETE, 300, reactions=5, attachments=2),
            outcome(ChannelSyncStatus.COMPLETE, 100),
            outcome(ChannelSyncStatus.SKIPPED),
            outcome(ChannelSyncStatus.FAILED, 50),
        ],
        seconds=2.0,
        peak_concurrent_channels=3,
        request_stats={"discord_requests": 12},
    )
    report.outcomes[0].item_errors.append((123, "malformed message: ..."))
    assert report.metadata() == {
        "channels_synced": 2,
        "channels_unchanged": 7,
        "channels_skipped": 1,
        "channels_not_readable": 0,
        "channels_failed": 1,
        "messages_synced": 450,
        "reactions_synced": 5,
        "attachments_synced": 2,
        "malformed_items": 1,
        "messages_per_second": 225.0,
        "channels_per_minute": 120.0,
        "peak_concurrent_channels": 3,
        "sync_seconds": 2.0,
        "discord_requests": 12,
    }


@pytest.mark.parametrize(
    ("statuses", "all_failed"),
    [
        pytest.param([], False, id="nothing-to-do-is-not-a-failure"),
        pytest.param([ChannelSyncStatus.FAILED, ChannelSyncStatus.SKIPPED], True, id="every-readable-channel-failed"),
        pytest.param([ChannelSyncStatus.SKIPPED], False, id="only-hidden-channels-is-not-a-failure"),
        pytest.param([ChannelSyncStatus.FAILED, ChannelSyncStatus.COMPLETE], False, id="one-channel-synced"),
    ],
)
def test_a_sync_failed_as_a_whole_only_when_every_channel_it_could_read_failed(
    statuses: list, all_failed: bool
) -> None:
    assert TenantSyncReport(outcomes=[outcome(s) for s in statuses]).all_failed is all_failed


def test_a_sync_that_took_no_time_reports_finite_rates() -> None:
    metadata = TenantSyncReport(seconds=0.0).metadata()
    assert metadata["messages_per_second"] == 0.0 and metadata["channels_per_minute"] == 0.0
