"""The platform-neutral interface the sync uses: what any community platform must answer.

Discord is the one implementation today (`discord_client.DiscordSource`); another platform plugs in beside it
by answering the same three questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class ChannelListing:
    """Every channel, thread and post the bot can see, plus what could not be listed."""

    channels: list[dict]
    # Parent channels whose thread listings were refused: their known threads must not be marked deleted.
    unlisted_parents: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


class SourceError(Exception):
    """A failure that ends a tenant's whole sync (bad token, bot not in the community); its text is for people."""


class ChannelUnavailable(Exception):
    """One channel cannot be read (no access, gone): record it, skip it, go on with the others."""

    def __init__(self, channel_id: int, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.channel_id = channel_id
        self.status = status
        self.reason = reason


class RateLimitTooLong(Exception):
    """The platform asked to wait longer than `SYNC_MAX_RATE_LIMIT_WAIT`: end this channel now, resume next sync."""


class TransientFailure(Exception):
    """The platform kept failing (5xx, timeouts, dropped connections) after every retry."""


class CommunitySource(Protocol):
    """What the sync needs from a platform."""

    async def describe_community(self, community_id: int) -> dict:
        """The community's name and counts; raises `SourceError` if the bot cannot see it."""

    async def list_channels(self, community_id: int) -> ChannelListing:
        """Every readable channel, thread and post of the community."""

    async def fetch_messages_after(self, channel_id: int, after: int, limit: int) -> list[dict]:
        """Up to `limit` messages with id > `after`, oldest first."""

    async def message_exists(self, channel_id: int, message_id: int) -> bool:
        """Whether the message still exists; raises `ChannelUnavailable` when the bot may not read the channel, so
        that lost access is never taken for a deletion."""
