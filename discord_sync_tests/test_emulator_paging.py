"""The product's real discord.py client pages the emulator exactly as it would page Discord."""

from __future__ import annotations

from collections.abc import Iterator

import discord
import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync_tests.emulator_fixtures import api_get, channel_ids, with_discord


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator([GuildSpec(seed=3, scale=0.1)]) as running:
        yield running


async def page_forward(http: discord.http.HTTPClient, channel_id: int, limit: int = 100) -> list[int]:
    seen: list[int] = []
    after = 0
    while True:
        page = [int(m["id"]) for m in await http.logs_from(channel_id, limit, after=after)]
        if not page:
            return seen
        assert page == sorted(page, reverse=True), "Discord answers newest first even with after="
        assert page[-1] > after
        seen.extend(reversed(page))
        after = page[0]


async def page_backward(http: discord.http.HTTPClient, channel_id: int, limit: int = 100) -> list[int]:
    seen: list[int] = []
    page = [int(m["id"]) for m in await http.logs_from(channel_id, limit)]
    while page:
        assert page == sorted(page, reverse=True)
        seen.extend(page)
        page = [int(m["id"]) for m in await http.logs_from(channel_id, limit, before=page[-1])]
    return list(reversed(seen))


@pytest.mark.parametrize(
    "name", ["page-boundary-250", "messages-5000", "page-boundary-0", "page-boundary-100", "page-boundary-101"]
)
def test_forward_and_backward_paging_return_every_message_exactly_once(emulator: Emulator, name: str) -> None:
    channel_id = channel_ids(emulator)[name]
    truth = emulator.client.ground_truth(emulator.guild_ids[0])[channel_id]
    assert len(truth) == int(name.rsplit("-", 1)[1])

    async def both(http: discord.http.HTTPClient) -> tuple[list[int], list[int]]:
        return await page_forward(http, channel_id), await page_backward(http, channel_id)

    forward, backward = with_discord(emulator, both)
    assert forward == truth
    assert backward == truth


def test_cursor_is_excluded_and_around_centres_on_it(emulator: Emulator) -> None:
    # Raw requests without a client's rate-limit handling: the shared module emulator's buckets must not refuse them.
    emulator.client.enable_rate_limits(False)
    channel_id = channel_ids(emulator)["page-boundary-99"]
    truth = emulator.client.ground_truth(emulator.guild_ids[0])[channel_id]
    after = [int(m["id"]) for m in api_get(emulator, f"/channels/{channel_id}/messages", after=truth[10], limit=5).body]
    assert after == list(reversed(truth[11:16]))
    before = [
        int(m["id"]) for m in api_get(emulator, f"/channels/{channel_id}/messages", before=truth[10], limit=5).body
    ]
    assert before == list(reversed(truth[5:10]))
    around = [
        int(m["id"]) for m in api_get(emulator, f"/channels/{channel_id}/messages", around=truth[50], limit=10).body
    ]
    assert truth[50] in around and sorted(around) == truth[45:55]
    emulator.client.enable_rate_limits(True)


def test_wrong_token_fails_login(emulator: Emulator) -> None:
    async def nothing(http: discord.http.HTTPClient) -> None:
        return None

    with pytest.raises(discord.LoginFailure):
        with_discord(emulator, nothing, token="wrong-token")
    assert api_get(emulator, "/users/@me", token="wrong").body == {"message": "401: Unauthorized", "code": 0}


def test_forbidden_unknown_and_historyless_channels_answer_like_discord(emulator: Emulator) -> None:
    ids = channel_ids(emulator)

    async def probe(http: discord.http.HTTPClient) -> list:
        with pytest.raises(discord.Forbidden) as forbidden:
            await http.logs_from(ids["forbidden"], 50)
        assert forbidden.value.code == 50001
        with pytest.raises(discord.NotFound) as unknown_channel:
            await http.logs_from(12345678901234567, 50)
        assert unknown_channel.value.code == 10003
        with pytest.raises(discord.NotFound) as unknown_message:
            await http.get_message(ids["general"], 12345678901234567)
        assert unknown_message.value.code == 10008
        with pytest.raises(discord.NotFound) as unknown_guild:
            await http.get_guild(12345678901234567)
        assert unknown_guild.value.code == 10004
        with pytest.raises(discord.Forbidden) as private_archive:
            await http.get_private_archived_threads(ids["private-threads-forbidden"], limit=100)
        assert private_archive.value.status == 403
        return await http.logs_from(ids["no-history"], 50)

    assert with_discord(emulator, probe) == []
    truth = emulator.client.ground_truth(emulator.guild_ids[0])
    assert ids["forbidden"] not in truth and ids["no-history"] not in truth


def test_archived_public_threads_page_by_archive_timestamp_newest_first(emulator: Emulator) -> None:
    parent = channel_ids(emulator)["archived-many"]

    async def all_pages(http: discord.http.HTTPClient) -> list[dict]:
        threads: list[dict] = []
        before = None
        pages = 0
        while True:
            page = await http.get_public_archived_threads(parent, before=before, limit=100)
            pages += 1
            threads.extend(page["threads"])
            if not page["has_more"]:
                assert pages >= 2
                return threads
            before = page["threads"][-1]["thread_metadata"]["archive_timestamp"]

    threads = with_discord(emulator, all_pages)
    stamps = [t["thread_metadata"]["archive_timestamp"] for t in threads]
    assert stamps == sorted(stamps, reverse=True)
    assert len({t["id"] for t in threads}) == len(threads) >= 101
    assert all(t["thread_metadata"]["archived"] and t["type"] == 11 for t in threads)


def test_joined_private_archived_threads_page_by_thread_id(emulator: Emulator) -> None:
    parent = channel_ids(emulator)["archived-many"]

    async def pages(http: discord.http.HTTPClient) -> list[int]:
        first = await http.get_joined_private_archived_threads(parent, limit=2)
        assert first["has_more"]
        rest = await http.get_joined_private_archived_threads(parent, before=first["threads"][-1]["id"], limit=2)
        return [int(t["id"]) for t in first["threads"] + rest["threads"]]

    ids = with_discord(emulator, pages)
    assert ids == sorted(ids, reverse=True) and len(ids) == 3


def test_discovery_routes_list_channels_and_active_threads(emulator: Emulator) -> None:
    guild_id = emulator.guild_ids[0]
    ids = channel_ids(emulator)

    async def discover(http: discord.http.HTTPClient) -> tuple[list, dict, dict]:
        return (
            await http.get_all_guild_channels(guild_id),
            await http.get_active_threads(guild_id),
            await http.get_guild(guild_id),
        )

    channels, active, guild = with_discord(emulator, discover)
    assert guild["approximate_member_count"] > 0
    by_name = {c["name"]: c for c in channels}
    assert by_name["page-boundary-0"]["last_message_id"] is None
    assert (
        int(by_name["page-boundary-1"]["last_message_id"])
        == emulator.client.ground_truth(guild_id)[ids["page-boundary-1"]][0]
    )
    assert all(c["type"] not in (11, 12) for c in channels)
    active_names = {t["name"] for t in active["threads"]}
    assert {"active-public-thread", "active-private-thread", "empty-thread"} <= active_names
    assert not any(t["thread_metadata"]["archived"] for t in active["threads"])
