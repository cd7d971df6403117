"""Resets re-sync from scratch and keep what cannot be fetched again; only an explicit purge deletes it.

Through the real Dagster assets and discord.py over HTTP against the emulator, into a real PostgreSQL: a tenant
with a tombstone, a channel deleted on Discord, a channel the bot can no longer read, and changes on Discord the
copy has not seen yet (an edit, a deletion), then a reset, then a purge.
"""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.run_names import PURGE_TAG, RECONCILE_TAG, RESET_CHANNEL_TAG, RESET_TAG
from discord_sync.store.purge import count_purge
from discord_sync.store.schema import channel_sync_jobs, messages, sync_progress
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, materialize_tenant, sync_env

GUILD = GuildSpec(seed=11, layout="uniform", channels=4, messages_per_channel=60)


@pytest.fixture
def emulator():
    with Emulator(guilds=[GUILD], token=TEST_TOKEN) as emulator:
        yield emulator


@pytest.fixture
def tenant(engine, emulator, monkeypatch):
    # The refresh horizons off: only a reset (or a reconcile) re-reads stored history here.
    sync_env(
        monkeypatch,
        emulator,
        SYNC_MESSAGE_FETCH_SIZE="25",
        SYNC_REFRESH_HOURLY_HORIZON_HOURS="0",
        SYNC_REFRESH_DAILY_HORIZON_DAYS="0",
        SYNC_RECONCILE_REQUESTS_PER_SECOND="50",
    )
    create_tenant(engine, "acme", emulator.guild_ids[0])
    return "acme"


def channel(emulator, name: str) -> int:
    return int(emulator.client.channel_by_name(emulator.guild_ids[0], name)["id"])


def stored(engine, channel_id: int) -> dict[int, tuple[str, bool]]:
    """The channel's stored messages: id -> (content, is deleted)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(messages.c.id, messages.c.content, messages.c.deleted_at).where(
                messages.c.channel_id == channel_id
            )
        ).all()
    return {row.id: (row.content, row.deleted_at is not None) for row in rows}


def live_ids(emulator, channel_id: int) -> set[int]:
    return {int(m["id"]) for m in emulator.client.ground_truth_messages(channel_id)}


def paged_channels(emulator) -> set[int]:
    """Channels whose messages were read from the very beginning (`after=0`) since the counters were reset."""
    return {
        int(entry["path"].split("/")[-2])
        for entry in emulator.client.request_log()
        if entry["path"].endswith("/messages") and "after=0&" in entry["query"] + "&"
    }


@pytest.fixture
def history(engine, emulator, tenant):
    """A synced tenant whose copy holds what no re-sync can fetch again, and changes it has not seen yet."""
    client = emulator.client
    tombstoned, deleted, hidden, changed = (channel(emulator, f"channel-{i}") for i in range(4))
    assert materialize_tenant(tenant).success
    gone = min(live_ids(emulator, tombstoned))
    client.delete_message(tombstoned, gone)
    assert materialize_tenant(tenant, tags={RECONCILE_TAG: "true"}).success
    assert stored(engine, tombstoned)[gone] == ("", True), "the setup made a tombstone"
    client.delete_channel(deleted)
    client.set_bot_access(hidden, view=False)
    assert materialize_tenant(tenant).success
    # Changes on Discord the copy has not seen: only a full re-read finds them.
    edited, removed = sorted(live_ids(emulator, changed))[:2]
    client.edit_message(changed, edited, "edited before the reset")
    client.delete_message(changed, removed)
    return {
        "tombstoned": tombstoned,
        "tombstone": gone,
        "deleted": deleted,
        "hidden": hidden,
        "changed": changed,
        "edited": edited,
        "removed": removed,
        "before": {c: stored(engine, c) for c in (tombstoned, deleted, hidden, changed)},
    }


def test_a_reset_keeps_what_cannot_be_fetched_again_and_re_syncs_everything_else(engine, emulator, tenant, history):
    with engine.connect() as conn:
        old_attempts = conn.execute(sa.select(channel_sync_jobs.c.run_id).distinct()).scalars().all()
    emulator.client.reset_counters()
    result = materialize_tenant(tenant, tags={RESET_TAG: "true"})
    assert result.success

    tombstoned, deleted, hidden, changed = (history[k] for k in ("tombstoned", "deleted", "hidden", "changed"))
    before = history["before"]
    # Kept: the tombstone, every message of the deleted channel and of the channel the bot cannot read.
    assert stored(engine, tombstoned) == before[tombstoned]
    assert stored(engine, tombstoned)[history["tombstone"]] == ("", True)
    assert stored(engine, deleted) == before[deleted] and len(before[deleted]) == GUILD.messages_per_channel
    assert stored(engine, hidden) == before[hidden] and len(before[hidden]) == GUILD.messages_per_channel
    # Re-synced: every readable channel read from the beginning, the edit upserted, the deletion confirmed.
    assert paged_channels(emulator) == {tombstoned, changed}
    after = stored(engine, changed)
    assert after[history["edited"]] == ("edited before the reset", False)
    assert after[history["removed"]] == ("", True), "a deletion found by the reset is confirmed and tombstoned"
    assert {i for i, (_, gone) in after.items() if not gone} == live_ids(emulator, changed)
    with engine.connect() as conn:
        progress = dict(conn.execute(sa.select(sync_progress.c.channel_id, sync_progress.c.status)).all())
        attempts_left = conn.execute(
            sa.select(sa.func.count()).where(channel_sync_jobs.c.run_id.in_(old_attempts))
        ).scalar_one()
    assert progress[tombstoned] == progress[changed] == "complete" and progress[hidden] == "skipped"
    assert attempts_left == 0, "the reset cleared the earlier attempts"


def test_a_channel_reset_touches_only_that_channel(engine, emulator, tenant, history):
    changed, tombstoned = history["changed"], history["tombstoned"]
    emulator.client.reset_counters()
    assert materialize_tenant(tenant, tags={RESET_CHANNEL_TAG: str(changed)}).success
    assert paged_channels(emulator) == {changed}
    assert stored(engine, changed)[history["removed"]] == ("", True)
    assert stored(engine, tombstoned) == history["before"][tombstoned]


def test_a_purge_deletes_what_it_counted_and_re_syncs_what_discord_still_has(engine, emulator, tenant, history):
    tombstoned, deleted, hidden, changed = (history[k] for k in ("tombstoned", "deleted", "hidden", "changed"))
    with engine.connect() as conn:
        counts = count_purge(conn, tenant)
    stored_before = sum(len(rows) for rows in history["before"].values())
    assert counts.messages == stored_before
    assert counts.tombstones == 1
    assert counts.of_deleted_channels == counts.of_unreadable_channels == GUILD.messages_per_channel
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_tenant(tenant, tags={RESET_TAG: "true", PURGE_TAG: "true"}, instance=instance)
    assert result.success
    logged = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if "purge of all channels deleted" in entry.user_message
    ]
    assert logged and counts.describe() in logged[0], "the run says what the purge deleted"
    assert stored(engine, deleted) == {} and stored(engine, hidden) == {}
    assert history["tombstone"] not in stored(engine, tombstoned)
    assert set(stored(engine, tombstoned)) == live_ids(emulator, tombstoned)
    assert set(stored(engine, changed)) == live_ids(emulator, changed)


def test_a_purge_tag_without_a_reset_is_refused_and_deletes_nothing(engine, emulator, tenant, history):
    result = materialize_tenant(tenant, tags={PURGE_TAG: "true"}, raise_on_error=False)
    assert not result.success
    assert stored(engine, history["deleted"]) == history["before"][history["deleted"]]
