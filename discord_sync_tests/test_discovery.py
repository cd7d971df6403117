"""Discovery against the emulator over HTTP: what each hour asks Discord, and what it finds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.settings import DEFAULTS
from discord_sync.source.discord.client import DiscordSource
from discord_sync.source.discord.discovery import discover_channels
from discord_sync.source.protocol import ChannelListing, DiscoveryMemory
from discord_sync_tests.sync_harness import TEST_TOKEN

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BASE_ROUTES = {
    "GET /users/@me",
    "GET /guilds/{guild_id}",
    "GET /guilds/{guild_id}/members/{user_id}",
    "GET /guilds/{guild_id}/channels",
    "GET /guilds/{guild_id}/threads/active",
}


@pytest.fixture
def emulator():
    # Rate limits off: runs an hour apart are seconds apart here, and would meet buckets the last one drained.
    with Emulator(guilds=[GuildSpec(seed=3, scale=0.05)], token=TEST_TOKEN, rate_limits=False) as running:
        yield running


def discover(emulator: Emulator, memory: DiscoveryMemory, now: datetime) -> ChannelListing:
    """One discovery through the product's client, with `now` standing for the hour of the run."""

    async def run() -> ChannelListing:
        async with DiscordSource(
            token=TEST_TOKEN,
            api_base_url=emulator.base_url,
            limiter=None,
            request_timeout=DEFAULTS.request_timeout,
            max_rate_limit_wait=DEFAULTS.max_rate_limit_wait,
        ) as source:
            await source.describe_community(emulator.guild_ids[0])
            return await discover_channels(source, emulator.guild_ids[0], memory, now)

    emulator.client.reset_counters()
    return asyncio.run(run())


def ids(emulator: Emulator) -> dict[str, int]:
    return {c["name"]: int(c["id"]) for c in emulator.client.channels(emulator.guild_ids[0])}


def seen(listing: ChannelListing) -> dict[int, dict]:
    return {int(c["id"]): c for c in listing.channels}


def refused(emulator: Emulator) -> int:
    """401 and 403 answers (429s cannot happen here: rate limits are off)."""
    counts = emulator.client.counters()["status_counts"]
    return counts.get("401", 0) + counts.get("403", 0) + counts.get("429", 0)


def archived_requests(emulator: Emulator) -> list[dict]:
    return [e for e in emulator.client.request_log() if "/threads/archived/" in e["path"]]


def test_quiet_hours_list_no_archived_threads_and_the_daily_full_listing_finds_them_all(emulator):
    first = discover(emulator, DiscoveryMemory(), START)
    full_pages = len(archived_requests(emulator))
    names = ids(emulator)
    assert full_pages > 10 and names["archived-public-100"] in seen(first)
    assert refused(emulator) == 0

    hourly = discover(emulator, first.memory, START + HOUR)
    routes = emulator.client.counters()["requests_by_route"]
    assert set(routes) <= BASE_ROUTES and sum(routes.values()) == 5, routes
    assert names["archived-public-100"] not in seen(hourly) and not hourly.listed_parents

    daily = discover(emulator, hourly.memory, START + 24 * HOUR)
    assert len(archived_requests(emulator)) == full_pages
    assert names["archived-public-100"] in seen(daily) and names["archived-many"] in daily.listed_parents


def test_a_thread_created_and_archived_within_the_hour_is_found_by_one_page_per_listing(emulator):
    names = ids(emulator)
    first = discover(emulator, DiscoveryMemory(), START)
    thread = emulator.client.create_thread(names["archived-many"], "born-and-archived", archived=True)
    hourly = discover(emulator, first.memory, START + HOUR)
    assert int(thread["id"]) in seen(hourly)
    asked = archived_requests(emulator)
    # Only the parent whose newest message moved (the THREAD_CREATED message) is listed, one page per kind,
    # though its public listing has more than one page.
    assert {e["path"].split("/")[4] for e in asked} == {str(names["archived-many"])}
    assert len(asked) == 2


def test_a_new_forum_post_moves_its_forum_and_forums_are_never_asked_for_private_threads(emulator):
    names = ids(emulator)
    first = discover(emulator, DiscoveryMemory(), START)
    post = emulator.client.create_thread(names["forum"], "quick-question", archived=True)
    hourly = discover(emulator, first.memory, START + HOUR)
    assert int(post["id"]) in seen(hourly)
    assert [e["path"].split("/")[4] for e in archived_requests(emulator)] == [str(names["forum"])]
    discover(emulator, DiscoveryMemory(), START)
    forums = {str(names["forum"]), str(names["media"])}
    listed = {(e["path"].split("/")[4], e["path"].rsplit("/", 1)[1]) for e in archived_requests(emulator)}
    assert {(forum, "public") for forum in forums} <= listed
    assert not {(forum, "private") for forum in forums} & listed


def test_a_known_thread_leaving_the_active_list_is_read_by_id_archived_or_gone(emulator):
    names = ids(emulator)
    first = discover(emulator, DiscoveryMemory(), START)
    active, empty = names["active-public-thread"], names["empty-thread"]
    emulator.client.update_channel(active, archived=True, locked=True)
    emulator.client.delete_channel(empty)
    hourly = discover(emulator, first.memory, START + HOUR)
    metadata = seen(hourly)[active]["thread_metadata"]
    assert metadata["archived"] and metadata["locked"]
    assert hourly.gone_threads == {empty}
    read = [e["path"] for e in emulator.client.request_log() if e["path"].endswith((str(active), str(empty)))]
    assert sorted(read) == sorted([f"/api/v10/channels/{active}", f"/api/v10/channels/{empty}"])
    assert not archived_requests(emulator)


def test_without_manage_threads_private_archives_come_from_the_joined_listing_without_a_refusal(emulator):
    names = ids(emulator)
    emulator.client.set_bot_manage_threads(emulator.guild_ids[0], False)
    listing = discover(emulator, DiscoveryMemory(), START)
    routes = emulator.client.counters()["requests_by_route"]
    assert "GET /channels/{channel_id}/threads/archived/private" not in routes
    assert routes["GET /channels/{channel_id}/users/@me/threads/archived/private"] > 0
    assert names["archived-private-joined"] in seen(listing)
    assert names["archived-private-not-joined"] not in seen(listing)
    assert refused(emulator) == 0 and not listing.errors


def test_a_hidden_parent_costs_no_request_and_its_threads_are_not_taken_for_gone(emulator):
    names = ids(emulator)
    first = discover(emulator, DiscoveryMemory(), START)
    assert first.unreadable == {
        names["forbidden"]: "missing View Channel",
        names["no-history"]: "missing Read Message History",
    }
    emulator.client.set_bot_access(names["archived-many"], view=False)
    later = discover(emulator, first.memory, START + 24 * HOUR)
    assert later.unreadable[names["archived-many"]] == "missing View Channel"
    assert not [e for e in emulator.client.request_log() if str(names["archived-many"]) in e["path"]]
    assert names["archived-many"] not in later.listed_parents and names["archived-many"] not in later.memory.parents
    assert refused(emulator) == 0

    emulator.client.set_bot_access(names["archived-many"])
    regained = discover(emulator, later.memory, START + 25 * HOUR)
    assert names["archived-many"] in regained.listed_parents
    assert names["archived-public-100"] in seen(regained)
