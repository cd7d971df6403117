"""The emulator's guild- and channel-level change: roles, the bot's roles, overwrites, Manage Threads, thread
archive/unarchive/lock, tags, renames, moves and deletions, each visible in spec-valid API answers and ground truth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync_tests.emulator_fixtures import api_get, channel_ids, response_schema, spec_validator

pytestmark = pytest.mark.integration

BOT_ID = 1100000000000000001
VIEW_CHANNEL, READ_MESSAGE_HISTORY, MANAGE_THREADS = 1 << 10, 1 << 16, 1 << 34


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator([GuildSpec(seed=11, scale=0.05)], rate_limits=False) as running:
        yield running


def assert_valid(spec_path: str, body: object) -> None:
    errors = list(spec_validator(response_schema(spec_path)).iter_errors(body))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_the_bot_member_and_its_role_are_served_and_an_unknown_member_is_404(emulator: Emulator) -> None:
    guild = emulator.guild_ids[0]
    member = api_get(emulator, f"/guilds/{guild}/members/{BOT_ID}").body
    assert_valid("/guilds/{guild_id}/members/{user_id}", member)
    roles = {r["id"]: int(r["permissions"]) for r in api_get(emulator, f"/guilds/{guild}").body["roles"]}
    assert member["roles"] and all(roles[r] & MANAGE_THREADS for r in member["roles"])
    assert api_get(emulator, f"/guilds/{guild}/members/12345").status == 404


def test_overwrites_hide_a_channel_and_make_it_readable_again(emulator: Emulator) -> None:
    guild, general = emulator.guild_ids[0], channel_ids(emulator)["general"]
    client = emulator.client
    hidden = client.set_bot_access(general, view=False)
    assert hidden["permission_overwrites"] == [{"id": str(BOT_ID), "type": 1, "allow": "0", "deny": str(VIEW_CHANNEL)}]
    listed = next(c for c in api_get(emulator, f"/guilds/{guild}/channels").body if c["id"] == str(general))
    assert listed["permission_overwrites"] == hidden["permission_overwrites"]
    assert_valid("/channels/{channel_id}", listed)
    assert api_get(emulator, f"/channels/{general}/messages").status == 403
    assert client.bot_permissions(guild)[general] == {"permissions": "0", "visible": False, "readable": False}
    assert general not in client.ground_truth(guild)
    client.set_bot_access(general, read_history=False)
    assert api_get(emulator, f"/channels/{general}/messages").body == []
    client.set_bot_access(general)
    assert client.bot_permissions(guild)[general]["readable"] and general in client.ground_truth(guild)


def test_roles_and_the_bots_roles_decide_what_it_sees(emulator: Emulator) -> None:
    guild, general = emulator.guild_ids[0], channel_ids(emulator)["general"]
    client = emulator.client
    client.set_role(guild, guild, 0)
    assert not client.bot_permissions(guild)[general]["visible"]
    client.set_role(guild, 777, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
    client.set_bot_roles(guild, [777])
    assert client.bot_permissions(guild)[general]["readable"]
    client.set_overwrites(general, [{"id": 777, "type": 0, "allow": 0, "deny": VIEW_CHANNEL}])
    assert not client.bot_permissions(guild)[general]["visible"]
    with pytest.raises(LookupError):
        client.set_bot_roles(guild, [999])


def test_without_manage_threads_the_private_archived_listing_is_refused(emulator: Emulator) -> None:
    guild, hub = emulator.guild_ids[0], channel_ids(emulator)["threads-hub"]
    assert api_get(emulator, f"/channels/{hub}/threads/archived/private").status == 200
    emulator.client.set_bot_manage_threads(guild, False)
    assert api_get(emulator, f"/channels/{hub}/threads/archived/private").status == 403
    joined = api_get(emulator, f"/channels/{hub}/users/@me/threads/archived/private")
    assert joined.status == 200 and joined.body["threads"]


def test_threads_archive_unarchive_lock_and_change_tags_and_names(emulator: Emulator) -> None:
    guild, names = emulator.guild_ids[0], channel_ids(emulator)
    client = emulator.client
    active = names["active-public-thread"]
    archived = client.update_channel(active, archived=True, locked=True)
    assert archived["thread_metadata"]["archived"] and archived["thread_metadata"]["locked"]
    listed = api_get(emulator, f"/channels/{names['threads-hub']}/threads/archived/public").body["threads"]
    assert listed[0]["id"] == str(active)
    assert str(active) not in {t["id"] for t in api_get(emulator, f"/guilds/{guild}/threads/active").body["threads"]}
    back = client.update_channel(active, archived=False, locked=False)
    assert not back["thread_metadata"]["archived"] and not back["thread_metadata"]["locked"]
    tags = [t["id"] for t in client.channel_by_name(guild, "forum")["available_tags"]]
    post = client.update_channel(names["forum-post-0"], applied_tags=tags[1:3], name="renamed-post")
    assert (post["applied_tags"], post["name"]) == (sorted(tags[1:3], key=int), "renamed-post")
    assert_valid("/channels/{channel_id}", api_get(emulator, f"/channels/{names['forum-post-0']}").body)


def test_channels_rename_move_and_delete(emulator: Emulator) -> None:
    guild, names = emulator.guild_ids[0], channel_ids(emulator)
    client = emulator.client
    client.update_channel(names["general"], name="lounge", topic="new topic", parent_id=names["forums"], position=3)
    moved = api_get(emulator, f"/channels/{names['general']}").body
    assert (moved["name"], moved["topic"], moved["parent_id"], moved["position"]) == (
        "lounge",
        "new topic",
        str(names["forums"]),
        3,
    )
    assert_valid("/channels/{channel_id}", moved)
    client.delete_channel(names["stage"])
    assert api_get(emulator, f"/channels/{names['stage']}").status == 404
    assert str(names["stage"]) not in {c["id"] for c in api_get(emulator, f"/guilds/{guild}/channels").body}


def test_a_new_thread_moves_its_parent_and_a_new_post_its_forum(emulator: Emulator) -> None:
    names, client = channel_ids(emulator), emulator.client
    before = api_get(emulator, f"/channels/{names['threads-hub']}").body["last_message_id"]
    client.create_thread(names["threads-hub"], "fresh")
    after = api_get(emulator, f"/channels/{names['threads-hub']}").body["last_message_id"]
    assert int(after) > int(before)
    newest = api_get(emulator, f"/channels/{names['threads-hub']}/messages", limit=1).body[0]
    assert (newest["type"], newest["content"]) == (18, "fresh")
    assert_valid("/channels/{channel_id}/messages/{message_id}", newest)
    post = client.create_thread(names["forum"], "new post")
    assert api_get(emulator, f"/channels/{names['forum']}").body["last_message_id"] == post["id"]
