"""Which known channels the catalog marks deleted, and when a run counts as failed: pure decisions, case by case."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import CHANNEL_COLUMNS
from discord_sync.source.protocol import ChannelListing
from discord_sync.sync.catalog import catalog_frame
from discord_sync.sync.report import TenantSyncReport
from discord_sync.sync.windows import ChannelOutcome, ChannelPlan

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, tzinfo=UTC)
PARENT, OTHER_PARENT, THREAD = 10, 11, 100


def known(*rows: tuple[int, int | None, bool]) -> pd.DataFrame:
    frame = pd.DataFrame(columns=list(CHANNEL_COLUMNS), dtype=object)
    for channel_id, parent_id, is_thread in rows:
        frame.loc[len(frame)] = {c: None for c in CHANNEL_COLUMNS} | {
            "id": channel_id,
            "parent_id": parent_id,
            "is_thread": is_thread,
            "name": str(channel_id),
        }
    return frame


def channel(channel_id: int) -> dict:
    return {"id": str(channel_id), "type": 0, "name": str(channel_id)}


@pytest.mark.parametrize(
    ("listing", "deleted"),
    [
        pytest.param(ChannelListing(channels=[channel(PARENT)]), set(), id="thread_under_unlisted_parent_is_unseen"),
        pytest.param(
            ChannelListing(channels=[channel(PARENT)], listed_parents={PARENT}), {THREAD}, id="parent_listed_fully"
        ),
        pytest.param(
            ChannelListing(channels=[channel(PARENT)], gone_threads={THREAD}), {THREAD}, id="platform_says_gone"
        ),
        pytest.param(ChannelListing(channels=[]), {PARENT, THREAD}, id="parent_deleted_takes_its_threads"),
        pytest.param(
            ChannelListing(channels=[channel(PARENT)], listed_parents={OTHER_PARENT}), set(), id="other_parent_listed"
        ),
    ],
)
def test_a_known_thread_is_deleted_only_when_discovery_proves_it_gone(listing: ChannelListing, deleted: set) -> None:
    frame, gone = catalog_frame(
        "acme", listing, known((PARENT, None, False), (THREAD, PARENT, True)), Anonymizer("k" * 16), NOW
    )
    assert set(frame[frame["deleted_at"].notna()]["id"]) == deleted and gone == len(deleted)


def test_an_unreadable_channel_is_stored_with_its_reason_and_not_deleted() -> None:
    listing = ChannelListing(channels=[channel(PARENT)], unreadable={PARENT: "missing View Channel"})
    frame, gone = catalog_frame("acme", listing, known((PARENT, None, False)), Anonymizer("k" * 16), NOW)
    assert frame.iloc[0]["unreadable_reason"] == "missing View Channel" and gone == 0


def outcome(status: str) -> ChannelOutcome:
    return ChannelOutcome(plan=ChannelPlan(1, "c", 0, 1), status=status)


@pytest.mark.parametrize(
    ("statuses", "failed"),
    [
        ([], False),
        (["skipped"], False),
        (["skipped", "skipped"], False),
        (["failed"], True),
        (["failed", "skipped"], True),
        (["failed", "complete"], False),
        (["complete", "skipped"], False),
    ],
)
def test_a_run_fails_only_when_every_channel_it_could_read_failed(statuses: list[str], failed: bool) -> None:
    assert TenantSyncReport(outcomes=[outcome(s) for s in statuses]).all_failed is failed
