"""The emulator models what happens to messages over time (reactions, votes, pins, edits of files, bulk deletes,
signed URLs that expire) and every kind of message the copy keeps; payloads stay valid against Discord's spec,
and thread counters and ground truth follow every change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.emulator.layout import build_guild
from discord_sync.emulator.payloads import channel as channel_payload
from discord_sync.emulator.snowflakes import unix_ms
from discord_sync_tests.emulator_fixtures import api_get, channel_ids, response_schema, spec_validator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator([GuildSpec(seed=3, scale=0.05)], rate_limits=False) as running:
        yield running


def without_forward_reference_type(message: dict) -> dict:
    # The spec's MessageReferenceType predates FORWARD (1); Discord sends it on every forward, the rest unchanged.
    reference = message.get("message_reference")
    if reference and reference.get("type") == 1:
        return {**message, "message_reference": {**reference, "type": 0}}
    return message


def assert_valid_messages(body: list) -> None:
    body = [without_forward_reference_type(m) for m in body]
    errors = sorted(spec_validator(response_schema("/channels/{channel_id}/messages")).iter_errors(body), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def fresh_channel(emulator: Emulator, name: str) -> int:
    return int(emulator.client.create_channel(emulator.guild_ids[0], name)["id"])


def read(emulator: Emulator, channel_id: int, message_id: int | str) -> dict:
    return api_get(emulator, f"/channels/{channel_id}/messages/{message_id}").body


def test_polls_forwards_stickers_embeds_and_files_validate_and_match_ground_truth(emulator: Emulator) -> None:
    client = emulator.client
    channel = fresh_channel(emulator, "kinds")
    original = client.post_message(channel, "the original", attachments=2, age_seconds=3600)
    client.post_message(channel, "", poll={"question": "Ship it?", "answers": ["yes", "no"], "votes": [3, 0]})
    client.post_message(channel, "", forward_of=(channel, int(original["id"])))
    client.post_message(channel, "look", stickers=[{"id": "749054660769218631", "name": "wave", "format_type": 1}])
    client.post_message(
        channel, "link", embeds=[{"type": "link", "url": "https://example.com", "title": "T", "description": "D"}]
    )
    client.post_message(channel, "", type=46)
    page = api_get(emulator, f"/channels/{channel}/messages", limit=100).body
    assert_valid_messages(page)
    by_content = {m["content"]: m for m in page}
    poll = next(m["poll"] for m in page if "poll" in m)
    assert poll["question"]["text"] == "Ship it?" and poll["results"]["answer_counts"] == [
        {"id": 1, "count": 3, "me_voted": False}
    ]
    forward = next(m for m in page if "message_snapshots" in m)
    assert forward["message_reference"]["type"] == 1 and forward["message_reference"]["message_id"] == original["id"]
    assert forward["message_snapshots"][0]["message"]["content"] == "the original"
    assert len(forward["message_snapshots"][0]["message"]["attachments"]) == 2
    assert by_content["look"]["sticker_items"][0]["name"] == "wave"
    assert by_content["link"]["embeds"] == [
        {"type": "link", "url": "https://example.com", "title": "T", "description": "D"}
    ]
    assert any(m["type"] == 46 for m in page)
    assert sorted(client.ground_truth_messages(channel), key=lambda m: m["id"]) == sorted(page, key=lambda m: m["id"])


def test_reactions_are_added_and_removed_over_time_with_burst_counts(emulator: Emulator) -> None:
    client = emulator.client
    channel = fresh_channel(emulator, "reactions")
    message = int(client.post_message(channel, "react to me")["id"])
    client.react(channel, message, "👍", 3)
    client.react(channel, message, "🔥", 2, burst=True)
    client.react(channel, message, "👍", -1)
    payload = read(emulator, channel, message)
    counts = {r["emoji"]["name"]: (r["count"], r["count_details"]["burst"]) for r in payload["reactions"]}
    assert counts == {"👍": (2, 0), "🔥": (2, 2)}
    client.react(channel, message, "🔥", -2)
    assert [r["emoji"]["name"] for r in read(emulator, channel, message)["reactions"]] == ["👍"]
    assert_valid_messages([read(emulator, channel, message)])
    with pytest.raises(LookupError, match="no reaction"):
        client.react(channel, message, "🎉", -1)


def test_poll_votes_change_until_the_poll_ends(emulator: Emulator) -> None:
    client = emulator.client
    channel = fresh_channel(emulator, "polls")
    message = int(client.post_message(channel, "", poll={"question": "Q", "answers": ["a", "b", "c"]})["id"])
    client.vote(channel, message, 2, 4)
    client.vote(channel, message, 3)
    client.vote(channel, message, 2, -1)
    results = read(emulator, channel, message)["poll"]["results"]
    assert results == {
        "is_finalized": False,
        "answer_counts": [{"id": 2, "count": 3, "me_voted": False}, {"id": 3, "count": 1, "me_voted": False}],
    }
    client.end_poll(channel, message)
    assert read(emulator, channel, message)["poll"]["results"]["is_finalized"] is True


def test_pins_flags_and_attachment_changes_show_through_the_api(emulator: Emulator) -> None:
    client = emulator.client
    channel = fresh_channel(emulator, "states")
    message = int(client.post_message(channel, "files", attachments=3)["id"])
    client.set_message_state(channel, message, pinned=True, flags=4, attachments=1)
    payload = read(emulator, channel, message)
    assert payload["pinned"] is True and payload["flags"] == 4 and len(payload["attachments"]) == 1


def test_thread_counters_follow_posts_single_and_bulk_deletes(emulator: Emulator) -> None:
    client = emulator.client
    parent = channel_ids(emulator)["general"]
    thread = int(client.create_thread(parent, "counted")["id"])
    ids = [int(client.add_message(thread, f"m{n}")["id"]) for n in range(5)]
    client.delete_message(thread, ids[0])
    assert client.bulk_delete(thread, [ids[1], ids[2], 12345]) == 2
    payload = api_get(emulator, f"/channels/{thread}").body
    assert (payload["message_count"], payload["total_message_sent"]) == (2, 5)
    assert client.ground_truth(emulator.guild_ids[0])[thread] == ids[3:]


def test_threads_created_before_july_2022_stop_counting_at_50() -> None:
    guild = build_guild(GuildSpec(seed=3, scale=0.05))
    thread = next(c for c in guild.channels.values() if c.is_thread and c.created_ms < unix_ms(2022, 7))
    thread.base_count = 80
    payload = channel_payload(guild, thread)
    assert (payload["message_count"], payload["total_message_sent"]) == (50, 50)
    recent = guild.create_channel("recent-thread", 11, parent_id=thread.parent_id)
    recent.base_count = 80
    assert channel_payload(guild, recent)["message_count"] == 80


def test_attachment_urls_are_signed_for_a_day_and_renewed_when_read_later(emulator: Emulator) -> None:
    client, guild_id = emulator.client, emulator.guild_ids[0]
    channel = fresh_channel(emulator, "signed")
    message = int(client.post_message(channel, "file", attachments=1)["id"])
    first = parse_qs(urlsplit(read(emulator, channel, message)["attachments"][0]["url"]).query)
    expires, issued = int(first["ex"][0], 16), int(first["is"][0], 16)
    assert expires - issued == 86_400 and issued <= time.time() < expires and len(first["hm"][0]) == 64
    client.set_attachment_url_clock(guild_id, 2 * 86_400)
    try:
        later = parse_qs(urlsplit(read(emulator, channel, message)["attachments"][0]["url"]).query)
    finally:
        client.set_attachment_url_clock(guild_id, 0)
    assert int(later["ex"][0], 16) >= expires + 2 * 86_400 - 3600 and later["hm"] != first["hm"]


def test_a_backdated_message_lies_in_the_past_in_id_and_timestamp(emulator: Emulator) -> None:
    channel = fresh_channel(emulator, "backdated")
    payload = emulator.client.post_message(channel, "three days ago", age_seconds=3 * 86_400)
    age = time.time() - (((int(payload["id"]) >> 22) + 1420070400000) / 1000)
    assert 3 * 86_400 - 60 < age < 3 * 86_400 + 60


def test_a_posted_history_spreads_over_the_last_days_oldest_first(emulator: Emulator) -> None:
    channel = fresh_channel(emulator, "history")
    ids = emulator.client.post_history(channel, 14, days=7)
    ages = [time.time() - (((i >> 22) + 1420070400000) / 1000) for i in ids]
    assert ids == sorted(ids) and emulator.client.ground_truth(emulator.guild_ids[0])[channel] == ids
    assert 7 * 86_400 - 60 < ages[0] and 0 < ages[-1] < 86_400 / 2 + 60
