"""Control-API mutations show through the REST routes and ground truth; generation is deterministic and lazy."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator

import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.emulator.layout import build_guild
from discord_sync.emulator.payloads import message as message_payload
from discord_sync.emulator.snowflakes import snowflake_ms, unix_ms
from discord_sync_tests.emulator_fixtures import api_get, channel_ids


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator([GuildSpec(seed=7, scale=0.1)], rate_limits=False) as running:
        yield running


def newest_ids(emulator: Emulator, channel_id: int, limit: int = 100) -> list[int]:
    return [int(m["id"]) for m in api_get(emulator, f"/channels/{channel_id}/messages", limit=limit).body]


def test_added_edited_and_deleted_messages_show_through_the_api_and_ground_truth(emulator: Emulator) -> None:
    client, guild_id = emulator.client, emulator.guild_ids[0]
    channel_id = channel_ids(emulator)["page-boundary-99"]
    before = client.ground_truth(guild_id)[channel_id]

    added = client.add_message(channel_id, content="fresh 🎉", reply_to=before[-1])
    assert int(added["id"]) > before[-1]
    assert added["referenced_message"]["id"] == str(before[-1])
    edited = client.edit_message(channel_id, before[0], "rewritten")
    assert edited["content"] == "rewritten" and edited["edited_timestamp"]
    client.delete_message(channel_id, before[1])

    assert newest_ids(emulator, channel_id, 1) == [int(added["id"])]
    assert api_get(emulator, f"/channels/{channel_id}/messages/{before[0]}").body["content"] == "rewritten"
    assert api_get(emulator, f"/channels/{channel_id}/messages/{before[1]}").status == 404
    channel = api_get(emulator, f"/channels/{channel_id}").body
    assert channel["last_message_id"] == added["id"]
    after = client.ground_truth(guild_id)[channel_id]
    assert after == [before[0]] + before[2:] + [int(added["id"])]
    assert client.ground_truth_counts(guild_id)[channel_id] == len(after)

    client.delete_message(channel_id, before[-1])
    reply = api_get(emulator, f"/channels/{channel_id}/messages/{added['id']}").body
    assert reply["referenced_message"] is None and reply["message_reference"]["message_id"] == str(before[-1])


def test_new_threads_and_channels_appear_and_deleted_channels_vanish(emulator: Emulator) -> None:
    client, guild_id = emulator.client, emulator.guild_ids[0]
    general = channel_ids(emulator)["general"]
    thread = client.create_thread(general, "brand-new-thread")
    archived = client.create_thread(general, "brand-new-archived", archived=True, private=True)
    channel = client.create_channel(guild_id, "brand-new-channel")
    client.add_message(int(thread["id"]), content="first in thread")

    active = api_get(emulator, f"/guilds/{guild_id}/threads/active").body
    assert "brand-new-thread" in {t["name"] for t in active["threads"]}
    private = api_get(emulator, f"/channels/{general}/threads/archived/private", limit=100).body
    assert archived["id"] in {t["id"] for t in private["threads"]}
    listed = api_get(emulator, f"/guilds/{guild_id}/channels").body
    assert channel["id"] in {c["id"] for c in listed}
    assert len(client.ground_truth(guild_id)[int(thread["id"])]) == 1

    client.delete_channel(int(channel["id"]))
    assert api_get(emulator, f"/channels/{channel['id']}").status == 404
    assert int(channel["id"]) not in client.ground_truth(guild_id)


def test_several_guilds_are_served_at_once_and_user_ids_cover_every_author(emulator: Emulator) -> None:
    client = emulator.client
    second = client.add_guild(GuildSpec(seed=8, layout="uniform", channels=3, messages_per_channel=40))
    assert second != emulator.guild_ids[0]
    assert {int(g["id"]) for g in client.guilds()} >= {second, emulator.guild_ids[0]}
    truth = client.ground_truth(second)
    assert len(truth) == 3 and all(len(ids) == 40 for ids in truth.values())
    users = set(client.user_ids(emulator.guild_ids[0]))
    shapes = client.ground_truth_messages(channel_ids(emulator)["all-shapes"])
    seen = {int(m["author"]["id"]) for m in shapes} | {int(u["id"]) for m in shapes for u in m["mentions"]}
    assert seen <= users


def test_the_same_seed_gives_the_same_guild_and_another_seed_a_different_one() -> None:
    first, again, other = (build_guild(GuildSpec(seed=s, scale=0.1)) for s in (11, 11, 12))
    assert first.id == again.id != other.id
    assert [(c.id, c.name, c.base_count) for c in first.channels.values()] == [
        (c.id, c.name, c.base_count) for c in again.channels.values()
    ]
    general = next(c for c in first.channels.values() if c.name == "general")
    general_again = again.channels[general.id]
    for index in (0, 1, general.base_count - 1):
        assert message_payload(first, first.message(general, general.base_id(index))) == message_payload(
            again, again.message(general_again, general_again.base_id(index))
        )


def test_message_ids_grow_with_time_and_lie_in_the_past() -> None:
    guild = build_guild(GuildSpec(seed=2, scale=0.1))
    for channel in guild.channels.values():
        ids = list(channel.all_ids())
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        for message_id in ids[:1] + ids[-1:]:
            assert unix_ms(2020) < snowflake_ms(message_id) < unix_ms(2026)


def test_a_million_message_guild_starts_fast_without_materialising_messages() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    guild = build_guild(GuildSpec(seed=9, layout="uniform", channels=1, messages_per_channel=1_000_000))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < 5_000_000
    channel = next(iter(guild.channels.values()))
    assert channel.count() == 1_000_000
    middle = channel.base_id(500_000)
    assert channel.ids_after(middle, 3) == [channel.base_id(i) for i in (500_001, 500_002, 500_003)]
    assert guild.message(channel, middle) is not None
