"""Discord's channel types by name, and the sets of them the product and the emulator decide by.

The product's and the emulator's one home for these facts (discovery, planning, shaping and the emulator's
payloads import them): which types are threads, which carry a message history of their own, which can hold
threads. The numbers are Discord's (`channel.type` in the API, stored in `channels.type`); the sets hold plain
ints so they go into SQL parameters and payload comparisons as they are.
"""

from __future__ import annotations

from enum import IntEnum


class ChannelType(IntEnum):
    """Discord's channel types that a guild's channel listing can hold."""

    GUILD_TEXT = 0
    GUILD_VOICE = 2
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_STAGE_VOICE = 13
    GUILD_FORUM = 15
    GUILD_MEDIA = 16


def _types(*members: ChannelType) -> frozenset[int]:
    return frozenset(int(member) for member in members)


THREAD_TYPES = _types(ChannelType.ANNOUNCEMENT_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD)
# Whose own message history a sync reads: text, voice and stage (their text chat), announcement, threads.
# Categories hold nothing; forum and media channels hold posts, which are threads.
MESSAGE_BEARING_TYPES = (
    _types(
        ChannelType.GUILD_TEXT,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_ANNOUNCEMENT,
        ChannelType.GUILD_STAGE_VOICE,
    )
    | THREAD_TYPES
)
# Channels that can hold threads.
THREAD_PARENT_TYPES = _types(
    ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.GUILD_FORUM, ChannelType.GUILD_MEDIA
)
# Private threads exist only under text channels.
PRIVATE_THREAD_PARENT_TYPES = _types(ChannelType.GUILD_TEXT)
# Channels whose threads are posts with tags.
FORUM_TYPES = _types(ChannelType.GUILD_FORUM, ChannelType.GUILD_MEDIA)
VOICE_TYPES = _types(ChannelType.GUILD_VOICE, ChannelType.GUILD_STAGE_VOICE)
