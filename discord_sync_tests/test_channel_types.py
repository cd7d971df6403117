"""Which Discord channel types the sync reads messages from, and which hold threads (`shaping.channel_types`)."""

from __future__ import annotations

import pytest

from discord_sync.shaping.channel_types import (
    MESSAGE_BEARING_TYPES,
    PRIVATE_THREAD_PARENT_TYPES,
    THREAD_PARENT_TYPES,
    THREAD_TYPES,
    ChannelType,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("channel_type", "reads_messages", "is_thread", "holds_threads"),
    [
        (ChannelType.GUILD_TEXT, True, False, True),
        (ChannelType.GUILD_VOICE, True, False, False),
        (ChannelType.GUILD_CATEGORY, False, False, False),
        (ChannelType.GUILD_ANNOUNCEMENT, True, False, True),
        (ChannelType.ANNOUNCEMENT_THREAD, True, True, False),
        (ChannelType.PUBLIC_THREAD, True, True, False),
        (ChannelType.PRIVATE_THREAD, True, True, False),
        (ChannelType.GUILD_STAGE_VOICE, True, False, False),
        (ChannelType.GUILD_FORUM, False, False, True),
        (ChannelType.GUILD_MEDIA, False, False, True),
    ],
)
def test_each_channel_type_is_read_listed_and_searched_for_threads_as_discord_defines_it(
    channel_type: ChannelType, reads_messages: bool, is_thread: bool, holds_threads: bool
) -> None:
    number = int(channel_type)  # payloads and the `channels.type` column carry plain numbers
    assert (number in MESSAGE_BEARING_TYPES, number in THREAD_TYPES, number in THREAD_PARENT_TYPES) == (
        reads_messages,
        is_thread,
        holds_threads,
    )


def test_private_threads_are_listed_only_under_text_channels() -> None:
    assert PRIVATE_THREAD_PARENT_TYPES == {0}
    assert all(type(t) is int for t in MESSAGE_BEARING_TYPES | THREAD_PARENT_TYPES), "plain ints for SQL parameters"
