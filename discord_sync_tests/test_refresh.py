"""The copy follows Discord after the sync its refresh policy names, through the real Dagster assets, discord.py
and the emulator: edits, reactions, polls, pins and files of the last day after the next hourly sync, of the last
week after the daily re-read, older ones after a reconcile; deleted messages scrubbed as `SYNC_DELETED_MESSAGES`
says; and nothing taken for deleted that the bot merely cannot read any more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.run_names import RECONCILE_TAG
from discord_sync.shaping.rows import parse_time
from discord_sync.store.schema import channel_refreshes, message_attachments, message_emoji_reactions, messages
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, materialize_tenant, sync_env

pytestmark = pytest.mark.integration

HOUR, DAY = 3600, 86_400


@pytest.fixture
def emulator():
    # A small uniform guild: discovery stays cheap, and every test posts into channels of its own.
    spec = GuildSpec(seed=11, layout="uniform", channels=2, messages_per_channel=5)
    with Emulator(guilds=[spec], token=TEST_TOKEN, rate_limits=False) as emulator:
        yield emulator


@pytest.fixture
def tenant(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator)
    create_tenant(engine, "acme", emulator.guild_ids[0])
    return "acme"


def new_channel(emulator, name: str) -> int:
    return int(emulator.client.create_channel(emulator.guild_ids[0], name)["id"])


def sync(tenant: str, **tags: str) -> dict:
    result = materialize_tenant(tenant, tags=tags or None)
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["messages"]]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def stored(engine, message_id: int):
    with engine.connect() as conn:
        row = conn.execute(sa.select(messages).where(messages.c.id == message_id)).one_or_none()
        reactions = conn.execute(
            sa.select(message_emoji_reactions.c.emoji_key, message_emoji_reactions.c.count)
            .where(message_emoji_reactions.c.message_id == message_id)
            .order_by(message_emoji_reactions.c.emoji_key)
        ).all()
        attachments = conn.execute(
            sa.select(message_attachments.c.url, message_attachments.c.url_expires_at).where(
                message_attachments.c.message_id == message_id
            )
        ).all()
    return row, dict(reactions), attachments


def truth(emulator, channel_id: int, message_id: int) -> dict:
    return next(m for m in emulator.client.ground_truth_messages(channel_id) if int(m["id"]) == message_id)


def assert_matches_discord(engine, emulator, channel_id: int, message_id: int) -> None:
    row, reactions, attachments = stored(engine, message_id)
    payload = truth(emulator, channel_id, message_id)
    assert row.content == payload["content"]
    assert row.edited_at == parse_time(payload["edited_timestamp"])
    assert row.pinned == payload["pinned"] and row.deleted_at is None
    assert reactions == {r["emoji"]["id"] or r["emoji"]["name"]: r["count"] for r in payload.get("reactions", [])}
    # Compared without the signature, which changes every hour.
    assert sorted(url.split("?")[0] for url, _ in attachments) == sorted(
        a["url"].split("?")[0] for a in payload["attachments"]
    )


def pass_a_day(engine, tenant: str) -> None:
    """As if the daily re-read last ran 25 hours ago."""
    with engine.begin() as conn:
        conn.execute(
            channel_refreshes.update()
            .where(channel_refreshes.c.tenant_id == tenant)
            .values(daily_refreshed_at=datetime.now(UTC) - timedelta(hours=25))
        )


def test_recent_changes_show_after_the_next_hourly_sync(engine, emulator, tenant):
    client = emulator.client
    channel = new_channel(emulator, "recent")
    text = int(client.post_message(channel, "first words", age_seconds=2 * HOUR, attachments=2)["id"])
    poll = int(client.post_message(channel, "", age_seconds=HOUR, poll={"question": "Q", "answers": ["a", "b"]})["id"])
    sync(tenant)  # the first sync counts as the first hourly and daily re-read

    client.edit_message(channel, text, "second thoughts")
    client.react(channel, text, "👍", 4)
    client.react(channel, text, "🔥", 2, burst=True)
    client.set_message_state(channel, text, pinned=True, attachments=1)
    client.vote(channel, poll, 2, 3)
    report = sync(tenant)

    assert report["refresh_windows"] >= 1 and report["refresh_messages_deleted"] == 0
    assert_matches_discord(engine, emulator, channel, text)
    row, _, _ = stored(engine, poll)
    assert [a["votes"] for a in row.poll["answers"]] == [0, 3]
    client.react(channel, text, "👍", -4)
    sync(tenant)
    assert_matches_discord(engine, emulator, channel, text)


def test_a_re_read_with_nothing_changed_rewrites_no_message(engine, emulator, tenant):
    channel = new_channel(emulator, "steady")
    for n in range(3):
        emulator.client.post_message(channel, f"message {n}", age_seconds=HOUR)
    sync(tenant)
    with engine.connect() as conn:
        before = conn.execute(sa.select(messages.c.id, messages.c.synced_at).order_by(messages.c.id)).all()
    report = sync(tenant)
    assert report["refresh_messages_reread"] >= 3
    with engine.connect() as conn:
        assert conn.execute(sa.select(messages.c.id, messages.c.synced_at).order_by(messages.c.id)).all() == before


def test_a_three_day_old_edit_shows_after_the_daily_re_read_not_before(engine, emulator, tenant):
    client = emulator.client
    channel = new_channel(emulator, "last-week")
    old = int(client.post_message(channel, "from three days ago", age_seconds=3 * DAY)["id"])
    client.post_message(channel, "from today", age_seconds=HOUR)
    sync(tenant)  # the first sync counts as the first daily re-read
    client.edit_message(channel, old, "edited three days later")
    client.react(channel, old, "🎉", 2)
    sync(tenant)  # hourly: only the last 24 h
    assert stored(engine, old)[0].content == "from three days ago"
    pass_a_day(engine, tenant)
    sync(tenant)
    assert_matches_discord(engine, emulator, channel, old)


def test_an_old_edit_shows_after_a_reconcile(engine, emulator, tenant):
    client = emulator.client
    channel = new_channel(emulator, "archive")
    old = int(client.post_message(channel, "from last month", age_seconds=30 * DAY)["id"])
    sync(tenant)
    client.edit_message(channel, old, "edited a month later")
    pass_a_day(engine, tenant)
    sync(tenant)
    assert stored(engine, old)[0].content == "from last month"
    report = sync(tenant, **{RECONCILE_TAG: "true"})
    assert report["refresh_windows"] >= 1
    assert_matches_discord(engine, emulator, channel, old)
    with engine.connect() as conn:
        assert conn.execute(
            sa.select(channel_refreshes.c.reconciled_at).where(channel_refreshes.c.channel_id == channel)
        ).scalar()


@pytest.mark.parametrize("policy", ["tombstone", "delete", "keep"])
def test_a_deleted_message_is_scrubbed_as_the_setting_says(engine, emulator, tenant, monkeypatch, policy):
    monkeypatch.setenv("SYNC_DELETED_MESSAGES", policy)
    client = emulator.client
    channel = new_channel(emulator, "deletions")
    doomed = int(
        client.post_message(
            channel, f"secret <@{client.user_ids(emulator.guild_ids[0])[0]}>", age_seconds=HOUR, attachments=1
        )["id"]
    )
    kept = int(client.post_message(channel, "stays", age_seconds=HOUR / 2)["id"])
    client.react(channel, doomed, "👍", 2)
    sync(tenant)
    client.delete_message(channel, doomed)
    report = sync(tenant)

    assert report["refresh_messages_deleted"] == 1
    row, reactions, attachments = stored(engine, doomed)
    if policy == "delete":
        assert row is None and reactions == {} and attachments == []
    elif policy == "tombstone":
        assert row.deleted_at is not None and row.created_at is not None and row.channel_id == channel
        assert (row.content, row.author_hash, row.mentioned_user_hashes) == ("", None, [])
        assert reactions == {} and attachments == []
    else:
        assert row.deleted_at is not None and row.content.startswith("secret") and reactions == {"👍": 2}
    assert stored(engine, kept)[0].deleted_at is None


def test_a_thread_whose_counters_show_a_deletion_is_re_read_whole(engine, emulator, tenant):
    client = emulator.client
    parent = new_channel(emulator, "parent")
    thread = int(client.create_thread(parent, "long-running")["id"])
    ancient = int(client.post_message(thread, "from two months ago", age_seconds=60 * DAY)["id"])
    client.post_message(thread, "from last month", age_seconds=30 * DAY)
    sync(tenant)  # the first sync records the thread's counters as the baseline
    client.delete_message(thread, ancient)
    report = sync(tenant)
    assert report["refresh_messages_deleted"] == 1
    assert stored(engine, ancient)[0].deleted_at is not None


def test_a_reply_to_a_deleted_message_reveals_the_deletion(engine, emulator, tenant):
    client = emulator.client
    channel = new_channel(emulator, "replies")
    original = int(client.post_message(channel, "from last month", age_seconds=30 * DAY)["id"])
    sync(tenant)
    client.add_message(channel, "answering it", reply_to=original)
    client.delete_message(channel, original)
    sync(tenant)  # reads the new reply, whose referenced_message is null
    assert stored(engine, original)[0].deleted_at is not None


def test_lost_access_is_never_taken_for_deletion(engine, emulator, tenant):
    client = emulator.client
    no_history, hidden = new_channel(emulator, "loses-history"), new_channel(emulator, "gets-hidden")
    ids = [int(client.post_message(c, "still here", age_seconds=HOUR)["id"]) for c in (no_history, hidden)]
    sync(tenant)
    # The bot loses Read Message History on one (Discord then answers an empty page) and View Channel on the other.
    emulator.state.find_channel(no_history)[1].can_read_history = False
    emulator.state.find_channel(hidden)[1].can_view = False
    report = sync(tenant)
    assert report["refresh_messages_deleted"] == 0
    for message_id in ids:
        row, _, _ = stored(engine, message_id)
        assert row.deleted_at is None and row.content == "still here"


def test_message_kinds_are_stored_and_expired_attachment_urls_renewed_by_the_next_re_read(engine, emulator, tenant):
    client, guild_id = emulator.client, emulator.guild_ids[0]
    channel = new_channel(emulator, "kinds")
    original = int(client.post_message(channel, "look at this", age_seconds=2 * HOUR, attachments=1)["id"])
    forward = int(client.post_message(channel, "", age_seconds=HOUR, forward_of=(channel, original))["id"])
    sticker = int(client.post_message(channel, "", age_seconds=HOUR, stickers=[{"id": "7", "name": "wave"}])["id"])
    embed = int(
        client.post_message(
            channel, "see", age_seconds=HOUR, embeds=[{"type": "link", "url": "https://x.org", "title": "X"}]
        )["id"]
    )
    sync(tenant)
    assert stored(engine, forward)[0].forwarded["messages"][0]["content"] == "look at this"
    assert stored(engine, sticker)[0].sticker_items == [{"id": "7", "name": "wave", "format_type": 1}]
    assert stored(engine, embed)[0].embeds == [
        {"type": "link", "url": "https://x.org", "title": "X", "description": None}
    ]
    [(_, expires)] = stored(engine, original)[2]
    assert timedelta(hours=22) < expires - datetime.now(UTC) <= timedelta(hours=24)

    client.set_attachment_url_clock(guild_id, 2 * DAY)  # the stored URL has expired by Discord's clock
    sync(tenant)
    [(_, renewed)] = stored(engine, original)[2]
    assert renewed > expires + timedelta(days=1)
    assert_matches_discord(engine, emulator, channel, original)
