"""The platform-neutral interface the sync uses: what any community platform must answer.

Discord is the one implementation today (`source.discord.client.DiscordSource`); another platform plugs in beside it
by answering the same three questions. A listing says which channels the bot may not read, so the sync skips
them without asking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class ThreadListingState:
    """What the last discovery saw of one parent channel's threads, so the next one asks only about change."""

    parent_last_message_id: int | None
    # Newest archive time seen in the public / private archived listings, newest thread id in the joined one.
    public_archived_until: datetime | None
    private_archived_until: datetime | None
    joined_private_until: int | None
    last_full_listing_at: datetime


@dataclass
class DiscoveryMemory:
    """What discovery remembers between runs (kept in PostgreSQL by the sync), and when to list everything."""

    parents: dict[int, ThreadListingState] = field(default_factory=dict)
    # Known threads that were active (not archived) at the last discovery, with their parent's id.
    active_threads: dict[int, int | None] = field(default_factory=dict)
    full_listing_interval: timedelta = timedelta(hours=24)


@dataclass
class ChannelListing:
    """Every channel, thread and post seen now, what the bot may not read, and what could not be listed."""

    channels: list[dict]
    # Channel id -> why the bot's permissions do not let it read it (threads follow their parent).
    unreadable: dict[int, str] = field(default_factory=dict)
    # Parents whose threads were all listed now: a known thread under them that was not seen is gone.
    listed_parents: set[int] = field(default_factory=set)
    # Known threads that the platform says no longer exist.
    gone_threads: set[int] = field(default_factory=set)
    # The memory to keep for the next discovery (parents the bot may not read are left out).
    memory: DiscoveryMemory = field(default_factory=DiscoveryMemory)
    # Requests sent per kind (guild, listings, archived pages, threads read by id), for the run's metadata.
    requests: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MemberAccess:
    """Whether the bot may list the community's members; when not, why (for `member_syncs.reason`)."""

    listable: bool
    reason: str | None = None


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

    async def list_channels(self, community_id: int, memory: DiscoveryMemory) -> ChannelListing:
        """Every channel, thread and post of the community, asking only about what changed since `memory`."""

    async def fetch_messages_after(self, channel_id: int, after: int, limit: int) -> list[dict]:
        """Up to `limit` messages with id > `after`, oldest first."""

    async def message_exists(self, channel_id: int, message_id: int) -> bool:
        """Whether the message still exists; raises `ChannelUnavailable` when the bot may not read the channel, so
        that lost access is never taken for a deletion."""


class MemberSource(Protocol):
    """What the members and who-reacted sync needs from a platform, beside `CommunitySource`."""

    async def member_access(self) -> MemberAccess:
        """Whether members may be listed (Discord: the Server Members intent), asked before any member request."""

    async def list_members(self, community_id: int, after: int, limit: int) -> list[dict]:
        """Up to `limit` members with user id > `after`, by user id."""

    async def list_reactors(
        self, channel_id: int, message_id: int, emoji: str, *, burst: bool, after: int, limit: int
    ) -> list[dict]:
        """Up to `limit` users (id > `after`) who reacted with `emoji` (normal or burst reactions)."""
