"""Discovery: a guild's channels, threads, forum and media posts, at a cost that follows what changed.

Every run: the guild (its roles), the bot's member object (its roles), the guild's channels (with their
permission overwrites) and its active threads: four requests. The bot's permissions in each channel come from
those (`permissions.py`); a channel it may not read is reported with the reason and never asked anything.
Archived threads are listed per parent channel only when needed:
- completely, when the parent has no listing state (new, or readable again) or its last full listing is older than
  the schedule (`SYNC_FULL_THREAD_LISTING_HOURS`), so a thread missed in between is found within that time;
- down to what the last listing saw (archive time, minus a margin), when the parent's `last_message_id` moved: a
  new thread moves it (a forum's is its newest post; a text channel gets the starter or THREAD_CREATED message);
- not at all for a quiet parent.
A known thread that left the active list was archived or deleted: it is read by its id. Forum and media channels
have no private threads; private archived threads are listed only with Manage Threads, else the bot's joined ones.
A refused listing (permissions changed since) is recorded and not retried in this run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from discord_sync.shaping.channel_types import PRIVATE_THREAD_PARENT_TYPES, THREAD_PARENT_TYPES
from discord_sync.source.discord.permissions import (
    BotMember,
    can_list_private_archived,
    channel_permissions,
    unreadable_reason,
)
from discord_sync.source.protocol import ChannelListing, ChannelUnavailable, DiscoveryMemory, ThreadListingState

ARCHIVED_PAGE_SIZE = 100
PARALLEL_LISTINGS = 10
# Listings stop this far below the newest archive time seen last: a thread archived while the last listing paged,
# or stamped by a clock a little behind, is still met.
ARCHIVE_MARGIN = timedelta(hours=1)
# Hourly runs drift by seconds: a full listing due within this much is done now rather than an hour late.
SCHEDULE_SLACK = timedelta(minutes=10)


T = TypeVar("T")


class GuildReader(Protocol):
    """The Discord requests discovery needs (`client.DiscordSource` answers them); refusals raise
    `ChannelUnavailable`."""

    @property
    def bot_user_id(self) -> int: ...

    async def guild(self, guild_id: int) -> dict: ...
    async def bot_member(self, guild_id: int) -> dict: ...
    async def guild_channels(self, guild_id: int) -> list[dict]: ...
    async def active_threads(self, guild_id: int) -> list[dict]: ...
    async def archived_threads(self, channel_id: int, kind: str, before: str | None, limit: int) -> dict: ...
    async def thread(self, channel_id: int) -> dict: ...


@dataclass(frozen=True)
class ListingPlan:
    """Which archived listings one parent needs now, and where each may stop."""

    parent_id: int
    kinds: tuple[str, ...]
    full: bool
    public_until: datetime | None = None
    private_until: datetime | None = None
    joined_until: int | None = None


def plan_listing(
    channel: dict, permissions: int, state: ThreadListingState | None, memory: DiscoveryMemory, now: datetime
) -> ListingPlan | None:
    """The archived listings a readable thread parent needs now, or None for a quiet parent (no request)."""
    private_kind = "private" if can_list_private_archived(permissions) else "joined_private"
    kinds = ("public", private_kind) if channel.get("type") in PRIVATE_THREAD_PARENT_TYPES else ("public",)
    parent_id = int(channel["id"])
    if state is None or now - state.last_full_listing_at + SCHEDULE_SLACK >= memory.full_listing_interval:
        return ListingPlan(parent_id, kinds, full=True)
    if _snowflake(channel.get("last_message_id")) == state.parent_last_message_id:
        return None
    return ListingPlan(
        parent_id,
        kinds,
        full=False,
        public_until=state.public_archived_until,
        private_until=state.private_archived_until,
        joined_until=state.joined_private_until,
    )


def _snowflake(raw: object) -> int | None:
    return int(str(raw)) if raw else None


def _archive_time(thread: dict) -> datetime | None:
    raw = (thread.get("thread_metadata") or {}).get("archive_timestamp")
    return datetime.fromisoformat(raw) if raw else None


async def _archived(reader: GuildReader, plan: ListingPlan, kind: str, requests: dict[str, int]) -> list[dict]:
    """One archived listing, paged to its end or (incremental) to what the last listing saw."""
    threads: list[dict] = []
    before: str | None = None
    until_time = {"public": plan.public_until, "private": plan.private_until}.get(kind)
    stop_time = until_time - ARCHIVE_MARGIN if until_time and not plan.full else None
    stop_id = plan.joined_until if kind == "joined_private" and not plan.full else None
    while True:
        page = await reader.archived_threads(plan.parent_id, kind, before, ARCHIVED_PAGE_SIZE)
        requests["archived_pages"] = requests.get("archived_pages", 0) + 1
        batch = list(page.get("threads") or [])
        threads.extend(batch)
        if not page.get("has_more") or not batch:
            return threads
        last = batch[-1]
        if stop_id is not None and int(last["id"]) <= stop_id:
            return threads
        last_time = _archive_time(last)
        if stop_time is not None and last_time is not None and last_time < stop_time:
            return threads
        before = (
            last["id"] if kind == "joined_private" else (last.get("thread_metadata") or {}).get("archive_timestamp")
        )
        if not before:
            return threads


def _next_state(
    plan: ListingPlan, channel: dict, old: ThreadListingState | None, seen: dict[str, list[dict]], now: datetime
) -> ThreadListingState:
    """The parent's listing state after every listing it needed succeeded: the newest of what was seen before
    and now, per listing."""

    def newest(values: list[T], previous: T | None) -> T | None:
        return max([*values, *([previous] if previous is not None else [])], default=None)  # type: ignore[type-var]

    def archive_times(kind: str) -> list[datetime]:
        return [t for t in map(_archive_time, seen.get(kind, [])) if t is not None]

    return ThreadListingState(
        parent_last_message_id=_snowflake(channel.get("last_message_id")),
        public_archived_until=newest(archive_times("public"), old.public_archived_until if old else None),
        private_archived_until=newest(archive_times("private"), old.private_archived_until if old else None),
        joined_private_until=newest(
            [int(t["id"]) for t in seen.get("joined_private", [])], old.joined_private_until if old else None
        ),
        last_full_listing_at=now if plan.full or old is None else old.last_full_listing_at,
    )


@dataclass
class DiscoveryPlan:
    """What a discovery asks Discord beyond the guild's channel list, decided from what it knows (pure)."""

    # Channel id -> the bot's effective permissions in it.
    permissions: dict[int, int]
    # Channel id -> why the bot may not read it.
    unreadable: dict[int, str]
    # The readable thread parents whose archived threads are listed now: (plan, the parent, its last state).
    listings: list[tuple[ListingPlan, dict, ThreadListingState | None]]
    # Quiet parents, not listed now: they keep the state of their last listing.
    quiet: dict[int, ThreadListingState]


def plan_discovery(bot: BotMember, guild_channels: list[dict], memory: DiscoveryMemory, now: datetime) -> DiscoveryPlan:
    """The bot's permissions in each channel, the channels it may not read, and the archived listings needed."""
    plan = DiscoveryPlan(permissions={}, unreadable={}, listings=[], quiet={})
    for channel in guild_channels:
        channel_id = int(channel["id"])
        plan.permissions[channel_id] = channel_permissions(bot, channel.get("permission_overwrites") or [])
        reason = unreadable_reason(plan.permissions[channel_id])
        if reason is not None:
            plan.unreadable[channel_id] = reason
    for channel in guild_channels:
        channel_id = int(channel["id"])
        if channel.get("type") not in THREAD_PARENT_TYPES or channel_id in plan.unreadable:
            continue
        state = memory.parents.get(channel_id)
        listing = plan_listing(channel, plan.permissions[channel_id], state, memory, now)
        if listing is not None:
            plan.listings.append((listing, channel, state))
        elif state is not None:
            plan.quiet[channel_id] = state
    return plan


async def discover_channels(
    reader: GuildReader, guild_id: int, memory: DiscoveryMemory, now: datetime | None = None
) -> ChannelListing:
    """List the guild's channels and threads, asking Discord only what `memory` does not answer."""
    now = now or datetime.now(UTC)
    guild, member, guild_channels, active = await asyncio.gather(
        reader.guild(guild_id),
        reader.bot_member(guild_id),
        reader.guild_channels(guild_id),
        reader.active_threads(guild_id),
    )
    plan = plan_discovery(BotMember.from_payloads(guild, member, reader.bot_user_id), guild_channels, memory, now)
    requests: dict[str, int] = {}
    listing = ChannelListing(channels=[], requests=requests, unreadable=dict(plan.unreadable))
    listing.memory.full_listing_interval = memory.full_listing_interval
    listing.memory.parents.update(plan.quiet)
    seen: dict[int, dict] = {int(channel["id"]): channel for channel in guild_channels}

    def keep_thread(thread: dict) -> None:
        thread_id = int(thread["id"])
        seen[thread_id] = thread
        parent_reason = listing.unreadable.get(_snowflake(thread.get("parent_id")) or 0)
        if parent_reason is not None:
            listing.unreadable[thread_id] = parent_reason

    for thread in active:
        keep_thread(thread)
    listing.memory.active_threads = {int(t["id"]): _snowflake(t.get("parent_id")) for t in active}
    # Listings run side by side (the shared limiter paces them): discovery costs requests / rate.
    slots = asyncio.Semaphore(PARALLEL_LISTINGS)

    async def run_listing(plan: ListingPlan, channel: dict, state: ThreadListingState | None) -> None:
        found: dict[str, list[dict]] = {}
        async with slots:
            for kind in plan.kinds:
                try:
                    found[kind] = await _archived(reader, plan, kind, requests)
                except ChannelUnavailable as error:
                    listing.errors.append(f"channel {plan.parent_id}: archived {kind} threads not listed ({error})")
        for threads in found.values():
            for thread in threads:
                keep_thread(thread)
        if len(found) < len(plan.kinds):
            # Keep the old state: what was not listed is asked again next run.
            if state is not None:
                listing.memory.parents[plan.parent_id] = state
            return
        listing.memory.parents[plan.parent_id] = _next_state(plan, channel, state, found, now)
        if plan.full:
            listing.listed_parents.add(plan.parent_id)

    await asyncio.gather(*(run_listing(*entry) for entry in plan.listings))
    requests["listings"] = len(plan.listings)
    await _read_threads_that_left_the_active_list(reader, memory, listing, seen, requests)
    listing.channels = list(seen.values())
    return listing


async def _read_threads_that_left_the_active_list(
    reader: GuildReader, memory: DiscoveryMemory, listing: ChannelListing, seen: dict[int, dict], requests: dict
) -> None:
    """A thread active last time and neither active nor listed now was archived or deleted: read it by id.

    Not under a parent the bot may not read (that would be refused) nor under a deleted one (it went with it)."""
    missing = sorted(
        thread_id
        for thread_id, parent_id in memory.active_threads.items()
        if thread_id not in seen and parent_id in seen and parent_id not in listing.unreadable
    )
    requests["threads_read"] = len(missing)
    slots = asyncio.Semaphore(PARALLEL_LISTINGS)

    async def read(thread_id: int) -> None:
        async with slots:
            try:
                thread = await reader.thread(thread_id)
            except ChannelUnavailable as error:
                if error.status == 404:
                    listing.gone_threads.add(thread_id)
                else:
                    listing.errors.append(f"thread {thread_id}: not read ({error})")
                return
        parent_id = _snowflake(thread.get("parent_id"))
        if parent_id in listing.unreadable:
            listing.unreadable[thread_id] = listing.unreadable[parent_id]
        seen[thread_id] = thread

    await asyncio.gather(*(read(thread_id) for thread_id in missing))
