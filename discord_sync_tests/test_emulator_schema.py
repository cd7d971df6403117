"""Every emulator route answers bodies that validate against Discord's own OpenAPI spec."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.emulator.content import SHAPES
from discord_sync_tests.emulator_fixtures import api_get, channel_ids, response_schema, spec_validator


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator([GuildSpec(seed=1, scale=0.1)], rate_limits=False) as running:
        yield running


def assert_valid(spec_path: str, body: object) -> None:
    errors = sorted(spec_validator(response_schema(spec_path)).iter_errors(body), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def without_media_type(channel: dict) -> dict:
    # The spec's channel enums predate GUILD_MEDIA (16); Discord serves it with the same fields as a forum.
    if channel.get("type") == 16:
        return {**channel, "type": 15}
    return channel


@pytest.mark.parametrize(
    ("spec_path", "path", "params"),
    [
        ("/users/@me", "/users/@me", {}),
        ("/oauth2/applications/@me", "/oauth2/applications/@me", {}),
        ("/guilds/{guild_id}", "/guilds/{guild}", {"with_counts": "true"}),
        ("/guilds/{guild_id}/threads/active", "/guilds/{guild}/threads/active", {}),
        ("/guilds/{guild_id}/members/{user_id}", "/guilds/{guild}/members/1100000000000000001", {}),
        (
            "/channels/{channel_id}/threads/archived/public",
            "/channels/{archived-many}/threads/archived/public",
            {"limit": 100},
        ),
        ("/channels/{channel_id}/threads/archived/private", "/channels/{archived-many}/threads/archived/private", {}),
        (
            "/channels/{channel_id}/users/@me/threads/archived/private",
            "/channels/{threads-hub}/users/@me/threads/archived/private",
            {},
        ),
        ("/channels/{channel_id}/messages", "/channels/{all-shapes}/messages", {"limit": 100}),
        ("/channels/{channel_id}/messages", "/channels/{general}/messages", {"limit": 100}),
        ("/channels/{channel_id}/messages", "/channels/{forum-post-0}/messages", {}),
        ("/channels/{channel_id}", "/channels/{general}", {}),
        ("/channels/{channel_id}", "/channels/{active-private-thread}", {}),
    ],
)
def test_route_answers_validate_against_the_spec(emulator: Emulator, spec_path: str, path: str, params: dict) -> None:
    names = {"guild": emulator.guild_ids[0], **channel_ids(emulator)}
    response = api_get(emulator, path.format_map(names), **params)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.body
    assert_valid(spec_path, response.body)


def test_every_guild_channel_validates_and_media_differs_only_by_its_type(emulator: Emulator) -> None:
    channels = api_get(emulator, f"/guilds/{emulator.guild_ids[0]}/channels").body
    assert {c["type"] for c in channels} >= {0, 2, 4, 5, 13, 15, 16}
    assert_valid("/guilds/{guild_id}/channels", [without_media_type(c) for c in channels])
    forum = next(c for c in channels if c["name"] == "forum")
    assert {t["name"] for t in forum["available_tags"]} >= {"bug", "question"}


def test_every_message_shape_validates_including_single_message_reads(emulator: Emulator) -> None:
    ids = channel_ids(emulator)
    messages = emulator.client.ground_truth_messages(ids["all-shapes"])
    assert len(messages) == 176
    assert_valid("/channels/{channel_id}/messages", messages)
    for message in messages[: len(SHAPES)]:
        single = api_get(emulator, f"/channels/{ids['all-shapes']}/messages/{message['id']}")
        assert single.body == message
        assert_valid("/channels/{channel_id}/messages/{message_id}", single.body)


def test_showcase_channel_holds_every_shape_the_product_must_store(emulator: Emulator) -> None:
    messages = emulator.client.ground_truth_messages(channel_ids(emulator)["all-shapes"])
    emoji = {r["emoji"]["name"] for m in messages for r in m.get("reactions", [])}
    assert {"👨‍👩‍👧", "🇫🇷"} & emoji
    assert any(r["emoji"].get("animated") for m in messages for r in m.get("reactions", []))
    assert any(r["count_details"]["burst"] and r["burst_colors"] for m in messages for r in m.get("reactions", []))
    assert {len(m["attachments"]) for m in messages} >= set(range(11))
    assert any(a.get("width") for m in messages for a in m["attachments"])
    assert any(m["edited_timestamp"] for m in messages)
    assert {6, 7, 19} <= {m["type"] for m in messages}
    assert any("webhook_id" in m for m in messages)
    assert any(m["referenced_message"] is None for m in messages if m["type"] == 19)
    assert any(m.get("referenced_message") for m in messages if m["type"] == 19)
    assert any("<@!" in m["content"] and m["mentions"] for m in messages)
    assert any(m["mention_roles"] for m in messages)
    assert any(len(m["content"]) == 4000 for m in messages)
    assert any(m["content"] == "" for m in messages)
    assert any(any(ord(ch) > 0xFFFF for ch in m["content"]) for m in messages)


def test_threads_carry_metadata_counts_and_tags(emulator: Emulator) -> None:
    ids = channel_ids(emulator)
    post = api_get(emulator, f"/channels/{ids['forum-post-1']}").body
    assert {"archived", "archive_timestamp", "locked"} <= set(post["thread_metadata"])
    # A thread created before 2022-07-01 (every generated one) stops counting at 50, as on Discord.
    count = len(emulator.client.ground_truth(emulator.guild_ids[0])[ids["forum-post-1"]])
    assert post["message_count"] == min(count, 50) and post["total_message_sent"] == min(count, 50)
    assert int(post["last_message_id"]) == emulator.client.ground_truth(emulator.guild_ids[0])[ids["forum-post-1"]][-1]
    posts = [api_get(emulator, f"/channels/{ids[f'forum-post-{n}']}").body for n in range(8)]
    assert any(p["applied_tags"] for p in posts)


def test_a_validator_rejects_a_broken_message() -> None:
    broken = copy.deepcopy({"id": "1", "content": 5})
    errors = list(spec_validator(response_schema("/channels/{channel_id}/messages/{message_id}")).iter_errors(broken))
    assert errors


@pytest.mark.integration  # its own emulator, not the module's fixture
def test_a_guild_with_user_ids_in_every_text_field_still_validates() -> None:
    with Emulator([GuildSpec(seed=5, scale=0.01)], rate_limits=False) as emulator:
        guild_id = emulator.guild_ids[0]
        posted = set(emulator.client.mention_users_everywhere(guild_id))
        users = [str(u) for u in emulator.client.user_ids(guild_id)[:3]]
        channels = api_get(emulator, f"/guilds/{guild_id}/channels").body
        assert_valid("/guilds/{guild_id}/channels", [without_media_type(c) for c in channels])
        assert all(f"<@{users[0]}>" in c["topic"] for c in channels if "topic" in c)
        threads = api_get(emulator, f"/guilds/{guild_id}/threads/active").body
        assert_valid("/guilds/{guild_id}/threads/active", threads)
        assert any(users[1] in t["name"] for t in threads["threads"])
        rich = []
        for channel in channels:
            if channel["type"] == 0:
                page = api_get(emulator, f"/channels/{channel['id']}/messages", limit=100)
                if page.status == 200:
                    assert_valid("/channels/{channel_id}/messages", [forward_as_reply(m) for m in page.body])
                    rich += [m for m in page.body if m["id"] in {str(i) for i in posted}]
    card = next(m["embeds"][0] for m in rich if m["embeds"])
    assert {"title", "description", "url", "fields", "footer", "author"} <= set(card)
    assert users[2] in card["fields"][0]["value"] and users[2] in card["footer"]["text"]
    poll = next(m["poll"] for m in rich if "poll" in m)
    assert users[0] in poll["question"]["text"] and users[0] in poll["answers"][0]["poll_media"]["text"]
    snapshot = next(m["message_snapshots"][0]["message"] for m in rich if "message_snapshots" in m)
    assert snapshot["embeds"][0]["fields"] == card["fields"]


def forward_as_reply(message: dict) -> dict:
    # The spec's MessageReferenceType predates FORWARD (1); Discord sends it on every forward, the rest unchanged.
    reference = message.get("message_reference")
    if reference and reference.get("type") == 1:
        return {**message, "message_reference": {**reference, "type": 0}}
    return message
