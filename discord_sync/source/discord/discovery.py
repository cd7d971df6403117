"""Discovery: every channel, thread, forum post and media post of a guild the bot can read.

Guild channels (text, announcement, voice and stage chat, forum, media, categories), the guild's active threads,
and each thread-capable channel's archived public and private threads, paged until `has_more` is false. A
refused archived-thread listing (403) is recorded and its parent remembered, so that its known threads are not
mistaken for deleted ones.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord

from discord_sync.source.protocol import ChannelListing

if TYPE_CHECKING:
    from discord_sync.source.discord.client import DiscordSource

# Channels that can hold threads: text, announcement, forum, media.
THREAD_PARENT_TYPES = frozenset({0, 5, 15, 16})
# Private threads exist only under text channels.
PRIVATE_THREAD_PARENT_TYPES = frozenset({0})
ARCHIVED_PAGE_SIZE = 100
PARALLEL_LISTINGS = 10


async def _archived(source: DiscordSource, channel_id: int, kind: str) -> list[dict]:
    threads: list[dict] = []
    before: str | None = None
    while True:
        page = await source.archived_threads(channel_id, kind, before, ARCHIVED_PAGE_SIZE)
        batch = list(page.get("threads") or [])
        threads.extend(batch)
        if not page.get("has_more") or not batch:
            return threads
        last = batch[-1]
        before = (
            last["id"] if kind == "joined_private" else (last.get("thread_metadata") or {}).get("archive_timestamp")
        )
        if not before:
            return threads


async def discover_channels(source: DiscordSource, guild_id: int) -> ChannelListing:
    """List everything readable in the guild; a refused listing is an error entry, not a failure."""
    listing = ChannelListing(channels=[])
    seen: dict[int, dict] = {}

    def keep(items: list[dict]) -> None:
        for item in items:
            seen[int(item["id"])] = item

    guild_channels = await source.guild_channels(guild_id)
    keep(await source.active_threads(guild_id))
    keep(guild_channels)
    listings = [
        (int(channel["id"]), kind)
        for channel in guild_channels
        if channel.get("type") in THREAD_PARENT_TYPES
        for kind in ["public"] + (["private"] if channel.get("type") in PRIVATE_THREAD_PARENT_TYPES else [])
    ]
    # Listings run side by side (the shared limiter paces them), so discovery costs requests / rate, not
    # requests x round trip.
    slots = asyncio.Semaphore(PARALLEL_LISTINGS)

    async def list_archived(channel_id: int, kind: str) -> None:
        async with slots:
            try:
                keep(await _archived(source, channel_id, kind))
            except (discord.Forbidden, discord.NotFound) as error:
                if kind == "private":
                    # Without MANAGE_THREADS the bot may still list the private threads it joined.
                    try:
                        keep(await _archived(source, channel_id, "joined_private"))
                    except (discord.Forbidden, discord.NotFound):
                        pass
                listing.unlisted_parents.add(channel_id)
                listing.errors.append(
                    f"channel {channel_id}: archived {kind} threads not listed ({error.status} {error.text})"
                )

    await asyncio.gather(*(list_archived(channel_id, kind) for channel_id, kind in listings))
    listing.channels = list(seen.values())
    return listing
