"""Which channels a sync fetches: those whose newest message is past their checkpoint (`planning.split_plans`)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from discord_sync.store.sync_status import ChannelSyncStatus
from discord_sync.sync.planning import split_plans
from discord_sync.sync.windows import ChannelPlan

pytestmark = pytest.mark.unit


def row(
    channel_id: int,
    last_message_id: int | None,
    checkpoint: int | None,
    status: str | None,
    unreadable_reason: str | None = None,
) -> SimpleNamespace:
    """A channel with its checkpoint, as `store.progress.channels_with_checkpoints` returns it."""
    return SimpleNamespace(
        id=channel_id,
        name=f"c{channel_id}",
        last_message_id=last_message_id,
        checkpoint=checkpoint,
        status=status,
        unreadable_reason=unreadable_reason,
    )


@pytest.mark.parametrize(
    ("channel", "planned", "unrecorded"),
    [
        pytest.param(row(1, 500, None, None), [ChannelPlan(1, "c1", 0, 500)], [], id="never-synced-with-messages"),
        pytest.param(row(1, 500, 400, "complete"), [ChannelPlan(1, "c1", 400, 500)], [], id="new-messages"),
        pytest.param(row(1, 500, 500, "complete"), [], [], id="caught-up"),
        pytest.param(row(1, None, None, None), [], [1], id="empty-never-synced-gets-a-row"),
        pytest.param(row(1, 300, 300, None), [], [1], id="unchanged-without-a-row-gets-one"),
        pytest.param(row(1, None, None, "complete"), [], [], id="empty-already-recorded"),
        pytest.param(row(1, 300, 300, "skipped"), [], [1], id="skipped-before-readable-now-with-nothing-new"),
        pytest.param(
            row(1, 500, 400, "failed"), [ChannelPlan(1, "c1", 400, 500)], [], id="failed-resumes-from-checkpoint"
        ),
    ],
)
def test_a_channel_is_fetched_only_when_discord_has_messages_past_its_checkpoint(
    channel: SimpleNamespace, planned: list[ChannelPlan], unrecorded: list[int]
) -> None:
    assert split_plans([channel]) == (planned, unrecorded, {})


def test_a_channel_the_bot_may_not_read_costs_no_request_and_says_why() -> None:
    hidden = row(1, 500, 400, "complete", unreadable_reason="missing View Channel")
    assert split_plans([hidden]) == ([], [], {1: "missing View Channel"})


def test_plans_keep_the_order_channels_come_in() -> None:
    rows = [row(3, 9, 1, ChannelSyncStatus.COMPLETE), row(1, 9, None, None), row(2, 5, 5, ChannelSyncStatus.COMPLETE)]
    plans, unrecorded, _ = split_plans(rows)
    assert [p.channel_id for p in plans] == [3, 1] and unrecorded == []
