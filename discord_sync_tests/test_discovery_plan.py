"""When discovery lists a parent's archived threads, and which listings: pure decisions, case by case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from discord_sync.source.discord.discovery import plan_discovery, plan_listing
from discord_sync.source.discord.permissions import MANAGE_THREADS, READ_MESSAGE_HISTORY, VIEW_CHANNEL, BotMember
from discord_sync.source.protocol import DiscoveryMemory, ThreadListingState

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
READ = VIEW_CHANNEL | READ_MESSAGE_HISTORY
MEMORY = DiscoveryMemory(full_listing_interval=timedelta(hours=24))


def state(last_message_id: int = 50, full_hours_ago: float = 1) -> ThreadListingState:
    return ThreadListingState(
        parent_last_message_id=last_message_id,
        public_archived_until=NOW - timedelta(days=2),
        private_archived_until=None,
        joined_private_until=7,
        last_full_listing_at=NOW - timedelta(hours=full_hours_ago),
    )


@pytest.mark.parametrize(
    ("channel_type", "permissions", "previous", "expected"),
    [
        pytest.param(0, READ, None, ("full", ("public", "joined_private")), id="new_parent_full_joined_listing"),
        pytest.param(0, READ | MANAGE_THREADS, None, ("full", ("public", "private")), id="manage_threads"),
        pytest.param(15, READ | MANAGE_THREADS, None, ("full", ("public",)), id="forum_has_no_private_threads"),
        pytest.param(5, READ, None, ("full", ("public",)), id="announcement_has_no_private_threads"),
        pytest.param(0, READ, state(), None, id="quiet_parent_costs_nothing"),
        pytest.param(0, READ, state(last_message_id=49), ("incremental", ("public", "joined_private")), id="moved"),
        pytest.param(
            0, READ, state(full_hours_ago=23.9), ("full", ("public", "joined_private")), id="due_within_slack"
        ),
        pytest.param(0, READ, state(full_hours_ago=23.5), None, id="not_due_yet"),
    ],
)
def test_a_parent_is_listed_fully_on_schedule_incrementally_when_it_moved_and_not_when_quiet(
    channel_type: int, permissions: int, previous: ThreadListingState | None, expected: tuple | None
) -> None:
    plan = plan_listing({"id": "10", "type": channel_type, "last_message_id": "50"}, permissions, previous, MEMORY, NOW)
    assert (None if plan is None else ("full" if plan.full else "incremental", plan.kinds)) == expected
    if plan is not None and not plan.full:
        assert (plan.public_until, plan.joined_until) == (previous.public_archived_until, 7)


def test_a_discovery_plan_lists_only_readable_parents_that_need_it_and_keeps_quiet_parents_state() -> None:
    """The whole guild at once: a hidden channel is unreadable and costs nothing, a voice channel holds no threads,
    a quiet parent keeps its state, and a parent never listed is listed fully."""
    bot = BotMember(user_id=1, guild_id=100, owner_id=None, role_ids=frozenset(), role_permissions={100: READ})
    hidden = [{"id": 100, "type": 0, "allow": 0, "deny": VIEW_CHANNEL}]
    guild_channels = [
        {"id": "10", "type": 0, "last_message_id": "50"},
        {"id": "11", "type": 0, "last_message_id": "50", "permission_overwrites": hidden},
        {"id": "12", "type": 2, "last_message_id": "50"},
        {"id": "13", "type": 15, "last_message_id": "50"},
    ]
    quiet = state()
    memory = DiscoveryMemory(parents={10: quiet}, full_listing_interval=timedelta(hours=24))
    plan = plan_discovery(bot, guild_channels, memory, NOW)
    assert set(plan.unreadable) == {11} and plan.permissions[10] == READ
    assert plan.quiet == {10: quiet}
    assert [(listing.parent_id, listing.full, state) for listing, _, state in plan.listings] == [(13, True, None)]
